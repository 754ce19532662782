#!/usr/bin/env bash
# Installs what apexdir needs on a Debian machine: slapd and the LDAP tools from Debian's
# packages (only when missing), a virtualenv in .venv and the package with its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ] || [ ! -e /usr/lib/ldap/pw-pbkdf2.so ] || ! command -v ldapsearch >/dev/null 2>&1; then
    echo "==> installing slapd, slapd-contrib and ldap-utils from Debian's packages"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    # The package's own slapd instance is not used (apexdir runs private ones): keep it off.
    echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slapd slapd-contrib ldap-utils >/dev/null
fi

# The portal speaks its captcha with espeak-ng and mixes it with sox, at run time: no
# voice file is shipped for a script to match against (issue 18).
if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
    echo "==> installing espeak-ng and sox from Debian's packages (the spoken captcha)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends espeak-ng sox >/dev/null
fi

# The browser journeys of the tests drive Debian's chromium (`bootstrap.sh --browser`), in its
# headless build (chromium-headless-shell: the same engine, ≈ a third faster per page).
if [ "${1:-}" = "--browser" ] && { ! command -v chromium >/dev/null 2>&1 \
        || ! command -v chromium-headless-shell >/dev/null 2>&1; }; then
    echo "==> installing chromium and chromium-headless-shell from Debian's packages (browser tests)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-headless-shell >/dev/null
fi

# The OpenID Connect journey logs into Apache's mod_auth_openidc as a relying party
# (tests/portal/test_oidc_apache.py): a private Apache per test, never the system's.
if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/sbin/apache2 ] || [ ! -e /usr/lib/apache2/modules/mod_auth_openidc.so ]; }; then
    echo "==> installing apache2 and libapache2-mod-auth-openidc from Debian's packages"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq apache2 libapache2-mod-auth-openidc >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating the virtualenv .venv"
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import apexdir, pytest, xdist, flask, playwright, aiosmtpd" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
    echo "==> installing apexdir and its dependencies"
    # With uv (from PyPI, into the virtualenv) when it can: it resolves and installs the same
    # versions as pip, in parallel — a fresh install took 35 s with pip, 5 s with uv (issue
    # 20 item 9: the set-up of a fresh clone is part of what CI waits for). uv reads neither
    # pip's configuration nor its mirrors: where PyPI is only reachable through them, pip
    # does it, as before.
    if ! { .venv/bin/pip install -q --disable-pip-version-check uv >/dev/null 2>&1 \
            && .venv/bin/uv pip install -q --python .venv/bin/python -e '.[test,dev]'; }; then
        .venv/bin/pip install -q --disable-pip-version-check -e '.[test,dev]'
    fi
    touch .venv/.installed
fi

# Bytecode of the project's own modules: with PYTHONDONTWRITEBYTECODE set (as in the
# development containers) Python never caches them, and every `apexdir` command compiled
# the ≈ 25 modules it imports again (+14 % of `apexdir account show`, benchmarks/cli.py).
# Only the files changed since the last run are compiled.
.venv/bin/python -m compileall -q apexdir cli daemon portal
