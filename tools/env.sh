# shellcheck shell=bash
# Shared bootstrap for ./dev: finds the Odoo 19 source, builds the virtualenv,
# starts the embedded PostgreSQL cluster. Every step checks whether its result
# is still valid and rebuilds nothing that is.
#
# Knobs (all optional):
#   ODOO_SRC            path to an Odoo 19.0 Community source tree
#   CRM_MOLLIE_STATE    where the venv, the cluster and logs live
#                       (default /var/tmp/crm_mollie, outside any clone so
#                       that every clone of the repository shares them)
#   CRM_MOLLIE_PGPORT   port of the embedded cluster (default 54329)

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${CRM_MOLLIE_STATE:-/var/tmp/crm_mollie}
PGPORT=${CRM_MOLLIE_PGPORT:-54329}
PG_BIN=${CRM_MOLLIE_PG_BIN:-/usr/lib/postgresql/15/bin}
PGDATA="$STATE_DIR/pg"
PGSOCKET="$STATE_DIR/pgsocket"
DB_USER=odoo
# The fixed place outside the repository where the Odoo source is looked for.
ODOO_FIXED_PLACE=/opt/odoo-19.0
ODOO_UPSTREAM=https://github.com/odoo/odoo.git

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }
die() {
    printf '\033[1;31m[dev] error:\033[0m %s\n' "$*" >&2
    exit 1
}

mkdir -p "$STATE_DIR"
chmod 755 "$STATE_DIR"

# --- Odoo source ----------------------------------------------------------

is_odoo19() {
    [ -f "$1/odoo-bin" ] && [ -f "$1/odoo/release.py" ] \
        && grep -q "^version_info = (19, 0," "$1/odoo/release.py"
}

find_odoo() {
    # 1. An explicit path wins, and must be right.
    if [ -n "${ODOO_SRC:-}" ]; then
        is_odoo19 "$ODOO_SRC" \
            || die "ODOO_SRC=$ODOO_SRC is not an Odoo 19.0 source tree (no odoo-bin or wrong version)."
        ODOO_SRC=$(cd "$ODOO_SRC" && pwd)
        return
    fi
    # 2. The fixed place, then a clone made by an earlier run.
    for candidate in "$ODOO_FIXED_PLACE" "$STATE_DIR/odoo-19.0"; do
        if is_odoo19 "$candidate"; then
            ODOO_SRC=$candidate
            return
        fi
    done
    # 3. Upstream, for a machine with internet.
    log "No Odoo 19 source found; trying a shallow clone of upstream 19.0 ..."
    if timeout 900 git clone --quiet --depth 1 --branch 19.0 "$ODOO_UPSTREAM" \
        "$STATE_DIR/odoo-19.0.partial" 2>/dev/null; then
        mv "$STATE_DIR/odoo-19.0.partial" "$STATE_DIR/odoo-19.0"
        ODOO_SRC="$STATE_DIR/odoo-19.0"
        return
    fi
    rm -rf "$STATE_DIR/odoo-19.0.partial"
    die "No Odoo 19.0 source found, and upstream could not be cloned.
  Put an Odoo 19.0 Community tree (with odoo-bin, odoo/ and addons/) at
  $ODOO_FIXED_PLACE, or point ODOO_SRC=/path/to/odoo at one, then run again."
}

# --- Python environment ---------------------------------------------------

# pip, quiet, without this machine's notes about its missing local indexes.
pip_install() {
    local venv=$1 out status=0
    shift
    out=$("$venv/bin/pip" install --quiet "$@" 2>&1) || status=$?
    printf '%s\n' "$out" | grep -v "is ignored: it is neither a file" >&2 || true
    return "$status"
}

python_bin() {
    for py in python3.11 python3; do
        if command -v "$py" >/dev/null \
            && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            command -v "$py"
            return
        fi
    done
    die "Python 3.11 is required (Odoo 19 and this project are tested on it)."
}

# Odoo's requirements.txt, adapted to Python 3.11 on this platform:
# cbor2==5.4.2 does not build on 3.11 (5.6.2 does), and python-ldap needs
# LDAP headers while serving only auth_ldap, which this project does not use.
odoo_requirements() {
    sed -e 's/^cbor2==5\.4\.2 ; python_version < .3\.12./cbor2==5.6.2/' \
        -e '/^python-ldap/d' "$ODOO_SRC/requirements.txt"
}

ensure_venv() {
    local py stamp
    py=$(python_bin)
    stamp=$({
        odoo_requirements
        cat "$REPO_ROOT/requirements-dev.txt"
        "$py" --version
    } | sha1sum | cut -c1-12)
    VENV="$STATE_DIR/venv-$stamp"
    if [ ! -f "$VENV/.complete" ]; then
        log "Building the virtualenv $VENV (first run only) ..."
        rm -rf "$VENV"
        "$py" -m venv "$VENV"
        pip_install "$VENV" --upgrade pip wheel "setuptools<81"
        odoo_requirements >"$VENV/odoo-requirements.txt"
        pip_install "$VENV" -r "$VENV/odoo-requirements.txt" \
            -r "$REPO_ROOT/requirements-dev.txt"
        touch "$VENV/.complete"
    fi
    # Odoo is not pip-installed: a .pth file puts the source on sys.path.
    local site
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$ODOO_SRC" >"$site/odoo-src.pth"
    PYTHON="$VENV/bin/python"
    export PATH="$VENV/bin:$PATH"
}

# The linters live apart from Odoo's pins (see requirements-lint.txt).
ensure_lint_venv() {
    local py stamp
    py=$(python_bin)
    stamp=$({ cat "$REPO_ROOT/requirements-lint.txt"; "$py" --version; } \
        | sha1sum | cut -c1-12)
    LINT_VENV="$STATE_DIR/lint-venv-$stamp"
    if [ ! -f "$LINT_VENV/.complete" ]; then
        log "Building the linters' virtualenv $LINT_VENV (first run only) ..."
        rm -rf "$LINT_VENV"
        "$py" -m venv "$LINT_VENV"
        pip_install "$LINT_VENV" --upgrade pip
        pip_install "$LINT_VENV" -r "$REPO_ROOT/requirements-lint.txt"
        touch "$LINT_VENV/.complete"
    fi
}

# --- PostgreSQL -----------------------------------------------------------

# The server refuses to run as root, so as root it runs as `postgres`.
as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ensure_postgres() {
    [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL 15 server binaries not found in $PG_BIN."
    mkdir -p "$PGSOCKET"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PGSOCKET"
        [ -d "$PGDATA" ] && chown -R postgres "$PGDATA"
    fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        log "Creating the embedded PostgreSQL cluster in $PGDATA ..."
        rm -rf "$PGDATA"
        mkdir -p "$PGDATA"
        [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
        as_pg_owner "$PG_BIN/initdb" --pgdata="$PGDATA" --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 --username=postgres >/dev/null
    fi
    if ! as_pg_owner "$PG_BIN/pg_ctl" status --pgdata="$PGDATA" >/dev/null 2>&1; then
        log "Starting PostgreSQL on 127.0.0.1:$PGPORT ..."
        as_pg_owner "$PG_BIN/pg_ctl" start --pgdata="$PGDATA" --wait --silent \
            --log="$PGDATA/server.log" \
            -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGSOCKET -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            || die "PostgreSQL did not start; see $PGDATA/server.log"
    fi
    # A superuser role for Odoo (Odoo refuses to connect as `postgres`).
    if ! psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'" | grep -q 1; then
        psql_admin -c "CREATE ROLE $DB_USER LOGIN SUPERUSER" >/dev/null
    fi
}

psql_admin() {
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -X -q "$@"
}

stop_postgres() {
    if [ -f "$PGDATA/PG_VERSION" ]; then
        as_pg_owner "$PG_BIN/pg_ctl" stop --pgdata="$PGDATA" --mode=fast --silent || true
    fi
}

# --- Odoo configuration ---------------------------------------------------

# Writes the Odoo configuration used by the run and the test commands.
write_odoo_conf() {
    ODOO_CONF="$STATE_DIR/odoo.conf"
    cat >"$ODOO_CONF" <<EOF
[options]
addons_path = $ODOO_SRC/odoo/addons,$ODOO_SRC/addons,$REPO_ROOT
data_dir = $STATE_DIR/filestore
db_host = 127.0.0.1
db_port = $PGPORT
db_user = $DB_USER
list_db = True
http_interface = 127.0.0.1
admin_passwd = admin
EOF
}

bootstrap() {
    find_odoo
    log "Odoo source: $ODOO_SRC"
    ensure_venv
    ensure_lint_venv
    ensure_postgres
    write_odoo_conf
}
