"""Development tools: the embedded environment of `apexdir dev up` (`env`), the SMTP and SMS
sinks (`sinks`) and what they captured (`captured`). Nothing in production imports them;
`aiosmtpd` is in the `dev` extra, which the README's two commands install."""
