"""Everything that talks to, configures or starts the LDAP directory."""
