"""The apexdir daemon (installed as `apexdir.daemon`): a scheduler over the jobs in `jobs/`."""
