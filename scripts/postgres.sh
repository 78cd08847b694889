#!/usr/bin/env bash
# Local PostgreSQL for development and CI: the query store of the read models, on a real server.
#
#   scripts/postgres.sh start    start the server (creating its cluster once); idempotent
#   scripts/postgres.sh stop     stop it (fast shutdown, then SIGKILL after a timeout)
#   scripts/postgres.sh status   exit 0 and print the DSN if running, else exit 1
#   scripts/postgres.sh dsn      print the DSN (whether or not the server runs)
#
# The last line printed on stdout by `start` and `status` (when running) is the DSN, e.g.
# postgresql://riskstream@127.0.0.1:15432/riskstream; everything else goes to stderr.
# So: DSN="$(scripts/postgres.sh start | tail -n1)".
#
# It runs the system's PostgreSQL binaries (initdb, pg_ctl, postgres from PATH or Debian's
# /usr/lib/postgresql/<version>/bin); on a Debian/Ubuntu machine without them, `start`
# installs them once (`apt-get install postgresql`, as root). initdb and postgres refuse to
# run as root: as root the server runs as the `postgres` system user (created by the package,
# or a dedicated `riskstream-pg` user when missing), which owns the data directory.
#
# The cluster lives in .riskstream/postgres (ignored by git) and is kept across restarts:
# tests isolate themselves in schemas of their own. The server listens on 127.0.0.1 only,
# TCP only, with trust authentication: a development server, never a production one.
#
# Environment:
#   RISKSTREAM_POSTGRES_PORT          port on 127.0.0.1 (default 15432)
#   RISKSTREAM_POSTGRES_DIR           cluster directory (default .riskstream/postgres, or as root
#                                     in a private checkout /tmp/riskstream-postgres-<hash>)
#   RISKSTREAM_POSTGRES_BIN           directory of initdb/pg_ctl/postgres (default: found)
#   RISKSTREAM_POSTGRES_START_TIMEOUT seconds to wait for the server to accept connections (default 60)
#   RISKSTREAM_POSTGRES_STOP_TIMEOUT  seconds to wait after a fast shutdown before SIGKILL (default 30)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PORT="${RISKSTREAM_POSTGRES_PORT:-15432}"
# Whether every directory above $1 lets others through (the server runs as another user
# when we are root, and must reach its cluster).
searchable_by_others() {
    local dir="$1" perms
    while [[ "$dir" != "/" ]]; do
        dir="$(dirname "$dir")"
        perms="$(stat -c %A "$dir")"
        [[ "${perms:9:1}" == [xt] ]] || return 1
    done
}

default_base_dir() {
    local inside="$REPO_ROOT/.riskstream/postgres"
    if ((EUID != 0)) || searchable_by_others "$REPO_ROOT/.riskstream"; then
        printf '%s\n' "$inside"
    else
        # A checkout in a private directory (mktemp -d): keep this checkout's cluster where
        # the server's user can reach it, one per checkout.
        printf '/tmp/riskstream-postgres-%s\n' "$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
    fi
}

BASE_DIR="${RISKSTREAM_POSTGRES_DIR:-$(default_base_dir)}"
DATA_DIR="$BASE_DIR/data"
LOG_FILE="$BASE_DIR/server.log"
LOCK_FILE="$BASE_DIR/.lock"
START_TIMEOUT="${RISKSTREAM_POSTGRES_START_TIMEOUT:-60}"
STOP_TIMEOUT="${RISKSTREAM_POSTGRES_STOP_TIMEOUT:-30}"
DB_USER="riskstream"
DB_NAME="riskstream"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { printf 'postgres.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

dsn() { printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$DB_USER" "$PORT" "$DB_NAME"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Binaries

BIN=""
find_bin() {
    local dir candidate
    if [[ -n "${RISKSTREAM_POSTGRES_BIN:-}" ]]; then
        [[ -x "$RISKSTREAM_POSTGRES_BIN/pg_ctl" ]] || die "no pg_ctl in RISKSTREAM_POSTGRES_BIN=$RISKSTREAM_POSTGRES_BIN"
        BIN="$RISKSTREAM_POSTGRES_BIN"
        return 0
    fi
    # Debian keeps the server binaries out of PATH, one directory per major version: newest first.
    for candidate in $(compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' | sort -t/ -k5,5nr); do
        dir="$(dirname "$candidate")"
        if [[ -x "$dir/initdb" && -x "$dir/postgres" ]]; then
            BIN="$dir"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
        if [[ -x "$dir/initdb" && -x "$dir/postgres" ]]; then
            BIN="$dir"
            return 0
        fi
    fi
    return 1
}

ensure_bin() {
    find_bin && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; install PostgreSQL or set RISKSTREAM_POSTGRES_BIN"
    ((EUID == 0)) ||
        die "PostgreSQL is not installed; run 'sudo apt-get install -y postgresql' (or this script as root) first"
    log "installing PostgreSQL with apt-get (once)..."
    # The package would start its own cluster on port 5432: policy-rc.d keeps it from doing so.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    local status=0
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2 || status=$?
    if ((created_policy)); then rm -f "$policy"; fi
    ((status == 0)) || die "apt-get install postgresql failed (exit $status)"
    find_bin || die "PostgreSQL was installed but its binaries are not in /usr/lib/postgresql/*/bin"
}

# ---------------------------------------------------------------------------------------------
# Who runs the server: root may not, so as root a system user does.

RUN_USER=""
choose_user() {
    if ((EUID != 0)); then
        RUN_USER=""
        return 0
    fi
    if id -u postgres >/dev/null 2>&1; then
        RUN_USER=postgres
    else
        RUN_USER=riskstream-pg
        if ! id -u "$RUN_USER" >/dev/null 2>&1; then
            log "creating the system user $RUN_USER to run PostgreSQL (it refuses to run as root)"
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_USER" ||
                die "could not create the system user $RUN_USER"
        fi
    fi
}

# Run a command as the server's user (the current user when not root). Descriptor 9 (the
# lock) is closed: a server started from here must not hold the lock after we exit.
as_server() {
    if [[ -n "$RUN_USER" ]]; then
        runuser -u "$RUN_USER" -- "$@" 9>&-
    else
        "$@" 9>&-
    fi
}

check_access() {
    # Every directory above the cluster must be searchable by the server's user.
    if [[ -n "$RUN_USER" ]] && ! runuser -u "$RUN_USER" -- test -x "$BASE_DIR" 9>&-; then
        die "user $RUN_USER cannot reach $BASE_DIR (a parent directory is not searchable by others); set RISKSTREAM_POSTGRES_DIR to a directory it can reach, e.g. /tmp/riskstream-postgres"
    fi
}

# ---------------------------------------------------------------------------------------------
# The server process

# Pid of the running postmaster of our cluster (checked against /proc, guarding pid reuse).
server_pid() {
    local pidfile="$DATA_DIR/postmaster.pid" pid cmdline
    [[ -r "$pidfile" ]] || return 1
    pid="$(head -n1 "$pidfile" 2>/dev/null)"
    is_uint "${pid:-x}" || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *postgres* && "$cmdline" == *"$DATA_DIR"* ]] || return 1
    printf '%s\n' "$pid"
}

server_alive() { server_pid >/dev/null; }

ready() { as_server "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U "$DB_USER"; }

init_cluster() {
    mkdir -p "$BASE_DIR"
    if [[ -n "$RUN_USER" ]]; then
        chown "$RUN_USER:" "$BASE_DIR"
        chmod 700 "$BASE_DIR"
    fi
    check_access
    log "creating a PostgreSQL cluster in ${DATA_DIR#"$REPO_ROOT"/} (once)"
    rm -rf "$DATA_DIR"
    if ! as_server "$BIN/initdb" -D "$DATA_DIR" -U "$DB_USER" --auth=trust -E UTF8 \
        --locale=C >"$BASE_DIR/initdb.out" 2>&1; then
        sed 's/^/    /' "$BASE_DIR/initdb.out" >&2
        rm -rf "$DATA_DIR"
        die "initdb failed (output above)"
    fi
    touch "$BASE_DIR/.initialised"
}

cmd_start() {
    (($# == 0)) || die "start takes no arguments"
    mkdir -p "$BASE_DIR"
    if server_alive; then
        ensure_bin
        choose_user
        if ready; then
            log "PostgreSQL already running (pid $(server_pid)) on 127.0.0.1:$PORT"
            dsn
            return 0
        fi
    fi
    ensure_bin
    choose_user
    if [[ ! -f "$BASE_DIR/.initialised" || ! -f "$DATA_DIR/PG_VERSION" ]]; then
        init_cluster
    fi
    check_access
    if ! server_alive; then
        if port_open "$PORT"; then
            die "port $PORT on 127.0.0.1 is already in use (another PostgreSQL?); stop it or set RISKSTREAM_POSTGRES_PORT"
        fi
        if [[ -n "$RUN_USER" ]]; then
            touch "$LOG_FILE"
            chown "$RUN_USER:" "$LOG_FILE"
        fi
        log "starting PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, data in ${DATA_DIR#"$REPO_ROOT"/}"
        # TCP on 127.0.0.1 only, no Unix socket (its default directory is root's); fsync off:
        # test data, and a crash of the machine may lose it.
        if ! as_server "$BIN/pg_ctl" start -D "$DATA_DIR" -l "$LOG_FILE" -s \
            -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >&2; then
            tail -n 30 "$LOG_FILE" 2>/dev/null | sed 's/^/    /' >&2 || true
            die "pg_ctl start failed (server log above)"
        fi
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until ready; do
        if ! server_alive; then
            tail -n 30 "$LOG_FILE" 2>/dev/null | sed 's/^/    /' >&2 || true
            die "PostgreSQL exited during startup (server log above)"
        fi
        ((SECONDS < deadline)) || die "PostgreSQL not accepting connections after ${START_TIMEOUT}s; see $LOG_FILE"
        sleep 0.2
    done
    # The database the DSN names (once; the cluster is kept across restarts).
    if ! as_server "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -tAq \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        as_server "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB_NAME" ||
            die "could not create the database $DB_NAME"
    fi
    log "PostgreSQL ready (pid $(server_pid)); DSN:"
    dsn
}

cmd_stop() {
    (($# == 0)) || die "stop takes no arguments"
    local pid
    if ! pid="$(server_pid)"; then
        log "PostgreSQL is not running"
        return 0
    fi
    log "stopping PostgreSQL (pid $pid)"
    # SIGINT is PostgreSQL's fast shutdown: sessions end, the cluster is left consistent.
    kill -INT "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while [[ -d "/proc/$pid" ]]; do
        if ((SECONDS >= deadline)); then
            log "PostgreSQL (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
    done
    log "PostgreSQL stopped (data kept in ${BASE_DIR#"$REPO_ROOT"/})"
}

cmd_status() {
    (($# == 0)) || die "status takes no arguments"
    local pid
    if ! pid="$(server_pid)"; then
        log "PostgreSQL is not running"
        return 1
    fi
    find_bin || die "PostgreSQL runs (pid $pid) but its binaries are not found"
    choose_user
    if ! ready; then
        log "PostgreSQL (pid $pid) is not accepting connections on 127.0.0.1:$PORT"
        return 1
    fi
    log "PostgreSQL running (pid $pid) on 127.0.0.1:$PORT"
    dsn
}

main() {
    local cmd="${1:-}"
    (($# > 0)) && shift
    if ! is_uint "$PORT" || ((PORT < 1024 || PORT > 65535)); then
        die "RISKSTREAM_POSTGRES_PORT must be a port from 1024 to 65535, got '$PORT'"
    fi
    case "$cmd" in
        -h | --help | help | "")
            usage
            [[ -n "$cmd" ]]
            return
            ;;
        dsn)
            dsn
            return
            ;;
    esac
    mkdir -p "$BASE_DIR"
    # One postgres.sh at a time per cluster (parallel test runners may all call `start`).
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die "another scripts/postgres.sh is still running (lock $LOCK_FILE)"
    case "$cmd" in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status "$@" ;;
        *)
            usage
            die "unknown command '$cmd'"
            ;;
    esac
}

main "$@"
