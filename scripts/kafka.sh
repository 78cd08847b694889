#!/usr/bin/env bash
# Local Apache Kafka (KRaft mode, no ZooKeeper, no Docker) for development and CI.
#
#   scripts/kafka.sh start [--brokers N]   start a clean N-node cluster (default 1); idempotent
#   scripts/kafka.sh stop                  stop every node (SIGTERM, then SIGKILL after a timeout)
#   scripts/kafka.sh status                exit 0 and print the bootstrap servers if running, else exit 1
#   scripts/kafka.sh kill-node N           SIGKILL node N (for failure tests)
#   scripts/kafka.sh start-node N          restart node N on its existing data
#   scripts/kafka.sh bootstrap             print the bootstrap servers of the current cluster (exit 1 if none)
#
# The last line printed on stdout by `start` and `status` (when running) is the bootstrap
# servers list, e.g. 127.0.0.1:19092 or 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094;
# everything else goes to stderr. So: BOOTSTRAP="$(scripts/kafka.sh start | tail -n1)".
#
# The broker jars come from Maven Central through scripts/kafka/pom.xml (needs `mvn` and a
# Java 17+ `java`) and are cached in .cache/kafka/<version>/libs. Runtime data (configs,
# KRaft storage, logs, pids) lives in .cache/kafka/run/ and is wiped by the next `start`
# of a stopped cluster, so every start gives a fresh, empty cluster.
#
# Every node is a combined broker+controller (process.roles=broker,controller) on 127.0.0.1:
# node i (1-based) listens for clients on BASE_PORT+i-1 and for the quorum on BASE_PORT+100+i-1.
#
# Environment:
#   RISKSTREAM_KAFKA_VERSION        Kafka version (default: <kafka.version> in scripts/kafka/pom.xml)
#   RISKSTREAM_KAFKA_BASE_PORT      first client port (default 19092)
#   RISKSTREAM_KAFKA_HEAP_OPTS      JVM heap options per node (default "-Xms1g -Xmx1g")
#   RISKSTREAM_KAFKA_START_TIMEOUT  seconds to wait for the cluster to be ready (default 90)
#   RISKSTREAM_KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   JAVA_HOME                       Java to use (default: `java` on PATH)
# shellcheck disable=SC2015  # "check && check || die" is meant: die when either check fails.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"
CACHE_DIR="$REPO_ROOT/.cache/kafka"
RUN_DIR="$CACHE_DIR/run"
STATE_FILE="$RUN_DIR/cluster.env"
LOCK_FILE="$CACHE_DIR/.lock"

START_TIMEOUT="${RISKSTREAM_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${RISKSTREAM_KAFKA_STOP_TIMEOUT:-30}"
# A fixed 1 GiB heap: with 256-512 MiB a long-running node's old generation fills up (85 %
# after an hour of tests), so young collections get squeezed and concurrent cycles frequent.
HEAP_OPTS="${RISKSTREAM_KAFKA_HEAP_OPTS:--Xms1g -Xmx1g}"
READY_MARKER="Kafka Server started"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

pinned_version() {
    local v
    v="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)"
    [[ -n "$v" ]] || die "cannot read <kafka.version> from $POM"
    printf '%s\n' "$v"
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# ---------------------------------------------------------------------------------------------
# Java and the broker classpath

JAVA=""
find_java() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        JAVA="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        JAVA="$(command -v java)"
    else
        die "java not found: Kafka ${VERSION} needs Java 17 or newer (apt-get install openjdk-17-jre-headless)"
    fi
    local line major
    line="$("$JAVA" -version 2>&1)" || die "$JAVA -version failed: $line"
    line="${line%%$'\n'*}"
    major="$(sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' <<<"$line")"
    if [[ "$major" == "1" ]]; then major=8; fi
    if ! is_uint "${major:-x}" || ((major < 17)); then
        die "Kafka ${VERSION} brokers need Java 17 or newer; found: $line ($JAVA)"
    fi
}

LIBS=""
ensure_libs() {
    LIBS="$CACHE_DIR/$VERSION/libs"
    if [[ -f "$CACHE_DIR/$VERSION/.complete" && -d "$LIBS" ]]; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found: it is needed once to fetch the Kafka $VERSION jars (apt-get install maven)"
    log "fetching Kafka $VERSION jars from Maven Central into ${LIBS#"$REPO_ROOT"/} (once)..."
    local tmp="$CACHE_DIR/$VERSION/libs.partial"
    rm -rf "$tmp" "$LIBS"
    mkdir -p "$tmp"
    # (Maven 3.8 prints ANSI resets even in batch mode: strip them.)
    if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dkafka.version="$VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 |
        sed 's/\x1b\[[0-9;]*m//g' >&2; then
        rm -rf "$tmp"
        rmdir "$CACHE_DIR/$VERSION" 2>/dev/null || true
        die "Maven could not resolve org.apache.kafka:kafka_2.13:$VERSION (see the output above)"
    fi
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "Maven finished but no kafka_2.13 jar is in $tmp"
    mv "$tmp" "$LIBS"
    touch "$CACHE_DIR/$VERSION/.complete"
}

# ---------------------------------------------------------------------------------------------
# Cluster state: .cache/kafka/run/cluster.env holds NODES, BASE_PORT, VERSION, CLUSTER_ID.

NODES=""
BASE_PORT=""
CLUSTER_ID=""
load_state() {
    [[ -f "$STATE_FILE" ]] || return 1
    local key value
    while IFS='=' read -r key value; do
        case "$key" in
            NODES) NODES="$value" ;;
            BASE_PORT) BASE_PORT="$value" ;;
            VERSION) VERSION="$value" ;;
            CLUSTER_ID) CLUSTER_ID="$value" ;;
        esac
    done <"$STATE_FILE"
    is_uint "${NODES:-x}" && is_uint "${BASE_PORT:-x}" && [[ -n "$VERSION" ]]
}

broker_port() { echo $((BASE_PORT + $1 - 1)); }
controller_port() { echo $((BASE_PORT + 100 + $1 - 1)); }
node_dir() { echo "$RUN_DIR/node-$1"; }

bootstrap_servers() {
    local i out=""
    for ((i = 1; i <= NODES; i++)); do
        out+="${out:+,}127.0.0.1:$(broker_port "$i")"
    done
    printf '%s\n' "$out"
}

# Pid of node $1 if it is alive and really is that node's Kafka JVM (guards against pid reuse).
node_pid() {
    local pidfile pid
    pidfile="$(node_dir "$1")/kafka.pid"
    [[ -f "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    is_uint "${pid:-x}" || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"kafka.Kafka $(node_dir "$1")/server.properties"* ]] || return 1
    printf '%s\n' "$pid"
}

node_alive() { node_pid "$1" >/dev/null; }

alive_count() {
    local i n=0
    for ((i = 1; i <= NODES; i++)); do
        if node_alive "$i"; then n=$((n + 1)); fi
    done
    echo "$n"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

gen_uuid() {
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    local u
    while :; do
        u="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "$u" != -* ]] && break
    done
    printf '%s\n' "$u"
}

# ---------------------------------------------------------------------------------------------
# Configuration

write_node_config() {
    local id="$1" dir rf min_isr i voters=""
    dir="$(node_dir "$id")"
    mkdir -p "$dir/data" "$dir/logs"
    if ((NODES >= 3)); then rf=3; min_isr=2; else rf=$NODES; min_isr=1; fi
    for ((i = 1; i <= NODES; i++)); do
        voters+="${voters:+,}127.0.0.1:$(controller_port "$i")"
    done
    cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: node $id of a $NODES-node local KRaft cluster (combined broker+controller).
node.id=$id
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id"),CONTROLLER://127.0.0.1:$(controller_port "$id")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=$voters
log.dirs=$dir/data

# Topics: explicit creation only, one partition unless asked otherwise.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
unclean.leader.election.enable=false

# Internal topics sized for the node count (fewer partitions than the production defaults:
# they are created faster, which matters for short-lived test clusters).
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr

# Development settings.
group.initial.rebalance.delay.ms=0
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
# Retention and compaction act within seconds, so tests can observe them (defaults: minutes).
log.retention.check.interval.ms=1000
log.cleaner.backoff.ms=500
log.segment.delete.delay.ms=0
EOF
    cat >"$dir/log4j2.properties" <<EOF
# Written by scripts/kafka.sh: node $id logs to $dir/logs/server.log.
status = warn
# Keep logging while Kafka shuts down (its own hook logs the shutdown).
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $dir/logs/server.log
appender.file.filePattern = $dir/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 64MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
EOF
}

format_storage() {
    # One JVM per node, run in parallel. One node: a single-voter dynamic quorum (--standalone).
    # Several nodes: every node is formatted with the same --initial-controllers voter set.
    local i initial="" pids=() failed=0
    if ((NODES > 1)); then
        for ((i = 1; i <= NODES; i++)); do
            initial+="${initial:+,}$i@127.0.0.1:$(controller_port "$i"):$(gen_uuid)"
        done
    fi
    for ((i = 1; i <= NODES; i++)); do
        local args=(format --config "$(node_dir "$i")/server.properties" --cluster-id "$CLUSTER_ID")
        if ((NODES == 1)); then args+=(--standalone); else args+=(--initial-controllers "$initial"); fi
        "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
            -Dlog4j2.configurationFile="$RUN_DIR/tools-log4j2.properties" \
            -cp "$LIBS/*" kafka.tools.StorageTool "${args[@]}" >"$(node_dir "$i")/format.out" 2>&1 &
        pids+=($!)
    done
    for ((i = 1; i <= NODES; i++)); do
        if ! wait "${pids[$((i - 1))]}"; then
            log "formatting the storage of node $i failed:"
            sed 's/^/    /' "$(node_dir "$i")/format.out" >&2
            failed=1
        fi
    done
    ((failed == 0)) || die "could not format the KRaft storage"
}

# ---------------------------------------------------------------------------------------------
# Processes

launch_node() {
    local id="$1" dir
    dir="$(node_dir "$id")"
    [[ -f "$dir/server.properties" ]] || die "node $id has no configuration in $dir (start the cluster first)"
    rm -f "$dir/kafka.pid"
    # Remember where the logs end, to look for this launch's readiness line only.
    local offset=0
    [[ -f "$dir/logs/server.log" ]] && offset="$(stat -c %s "$dir/logs/server.log")"
    echo "$offset" >"$dir/log.offset"
    {
        echo "=== $(date '+%Y-%m-%d %H:%M:%S') launching node $id"
    } >>"$dir/kafka.out"
    # G1 with a 5 ms pause goal instead of Kafka's usual 20 ms (two of those are a whole
    # record's latency budget): under 20k records/s on two CPUs, as many pauses and the same
    # total pause time and a like typical pause (8.7 ms), but a shorter longest pause per run
    # (median 14 ms, not 20 ms; weak: pauses vary ±50 % with the load of the machine; see
    # benchmarks/README.md). ZGC (Java 17) stalled allocations there. GC log: logs/gc.log.
    # shellcheck disable=SC2086  # HEAP_OPTS is a list of JVM options
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash, which writes its pid then execs java
    setsid nohup bash -c 'echo $$ >"$0" && exec "$@"' "$dir/kafka.pid" \
        "$JAVA" $HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=5 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Xlog:gc:file="$dir/logs/gc.log":uptime:filecount=2,filesize=16M \
        -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
        -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" \
        >>"$dir/kafka.out" 2>&1 </dev/null 9>&- &
    local waited=0
    while [[ ! -s "$dir/kafka.pid" ]] && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
    [[ -s "$dir/kafka.pid" ]] || die "node $id did not write its pid file"
}

node_ready() {
    local id="$1" dir offset
    dir="$(node_dir "$id")"
    port_open "$(broker_port "$id")" || return 1
    offset="$(cat "$dir/log.offset" 2>/dev/null || echo 0)"
    [[ -f "$dir/logs/server.log" ]] || return 1
    if (($(stat -c %s "$dir/logs/server.log") < offset)); then offset=0; fi
    # (grep -c reads all its input: grep -q could SIGPIPE tail, which pipefail turns into a failure.)
    local hits
    hits="$(tail -c +"$((offset + 1))" "$dir/logs/server.log" | grep -cF "$READY_MARKER" || true)"
    ((${hits:-0} > 0))
}

show_node_logs() {
    local id="$1" dir
    dir="$(node_dir "$id")"
    log "---- node $id: last lines of ${dir#"$REPO_ROOT"/}/kafka.out"
    tail -n 20 "$dir/kafka.out" 2>/dev/null | sed 's/^/    /' >&2 || true
    log "---- node $id: last lines of ${dir#"$REPO_ROOT"/}/logs/server.log"
    tail -n 40 "$dir/logs/server.log" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# Brokers that the cluster metadata reports as alive (registered and unfenced).
live_broker_count() {
    local out
    out="$(timeout 30 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -Xshare:auto \
        -Dlog4j2.configurationFile="$RUN_DIR/tools-log4j2.properties" \
        -cp "$LIBS/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
        --bootstrap-server "$1" 2>/dev/null)" || return 1
    grep -cE '^[^ ]+ \(id: [0-9]+ ' <<<"$out" || true
}

# A fresh `start` that fails stops what it started (the logs stay for inspection).
STOP_ON_FAILURE=0
fail_start() {
    if ((STOP_ON_FAILURE)); then
        local i ids=()
        for ((i = 1; i <= NODES; i++)); do ids+=("$i"); done
        STOP_TIMEOUT=10 stop_nodes "${ids[@]}"
    fi
    die "$@"
}

# Wait until the given nodes have started and the cluster reports $NODES live brokers.
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT)) id pending=("$@") still
    while ((${#pending[@]} > 0)); do
        still=()
        for id in "${pending[@]}"; do
            if ! node_alive "$id"; then
                show_node_logs "$id"
                fail_start "node $id exited during startup (logs above)"
            fi
            node_ready "$id" || still+=("$id")
        done
        pending=("${still[@]+"${still[@]}"}")
        ((${#pending[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            for id in "${pending[@]}"; do show_node_logs "$id"; done
            fail_start "node(s) ${pending[*]} not ready after ${START_TIMEOUT}s (logs above)"
        fi
        sleep 0.3
    done
    # Kafka-level check: the brokers answer ApiVersions and all alive nodes are in the metadata.
    local want n bootstrap
    want="$(alive_count)"
    bootstrap="$(bootstrap_servers)"
    while :; do
        n="$(live_broker_count "$bootstrap" || echo 0)"
        ((n >= want)) && break
        if ((SECONDS >= deadline)); then
            fail_start "the cluster reports $n live broker(s), expected $want, after ${START_TIMEOUT}s; see .cache/kafka/run/node-*/logs/server.log"
        fi
        sleep 0.5
    done
}

# SIGTERM the given nodes, wait up to STOP_TIMEOUT, then SIGKILL the ones still alive.
stop_nodes() {
    local id pid deadline=$((SECONDS + STOP_TIMEOUT)) remaining
    for id in "$@"; do
        if pid="$(node_pid "$id")"; then
            log "stopping node $id (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    while :; do
        remaining=()
        for id in "$@"; do node_alive "$id" && remaining+=("$id"); done
        ((${#remaining[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            for id in "${remaining[@]}"; do
                if pid="$(node_pid "$id")"; then
                    log "node $id (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
                    kill -KILL "$pid" 2>/dev/null || true
                fi
            done
            sleep 0.5
            deadline=$((SECONDS + 10))
            STOP_TIMEOUT=10
        fi
        sleep 0.2
    done
    for id in "$@"; do rm -f "$(node_dir "$id")/kafka.pid"; done
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
    local want=""
    while (($# > 0)); do
        case "$1" in
            --brokers | -n)
                (($# >= 2)) || die "--brokers needs a number"
                want="$2"
                shift 2
                ;;
            --brokers=*)
                want="${1#--brokers=}"
                shift
                ;;
            *) die "start: unknown argument '$1' (usage: start [--brokers N])" ;;
        esac
    done
    if [[ -n "$want" ]]; then
        is_uint "$want" && ((10#$want >= 1 && 10#$want <= 9)) || die "--brokers must be a number from 1 to 9, got '$want'"
        want=$((10#$want))
    fi

    # Already running?
    if load_state && (($(alive_count) > 0)); then
        if [[ -n "$want" && "$want" != "$NODES" ]]; then
            die "a $NODES-node cluster is already running ($(bootstrap_servers)); run 'scripts/kafka.sh stop' first"
        fi
        if [[ -n "${RISKSTREAM_KAFKA_BASE_PORT:-}" && "$RISKSTREAM_KAFKA_BASE_PORT" != "$BASE_PORT" ]]; then
            log "note: the running cluster uses base port $BASE_PORT, not RISKSTREAM_KAFKA_BASE_PORT=$RISKSTREAM_KAFKA_BASE_PORT (stop it to change)"
        fi
        if [[ "$REQUESTED_VERSION" != "$VERSION" ]]; then
            log "note: the running cluster is Kafka $VERSION, not $REQUESTED_VERSION (stop it to change)"
        fi
        find_java
        LIBS="$CACHE_DIR/$VERSION/libs"
        local i dead=()
        for ((i = 1; i <= NODES; i++)); do node_alive "$i" || dead+=("$i"); done
        if ((${#dead[@]} > 0)); then
            log "restarting stopped node(s) ${dead[*]} of the running $NODES-node cluster"
            for i in "${dead[@]}"; do launch_node "$i"; done
            wait_ready "${dead[@]}"
        else
            log "Kafka $VERSION already running with $NODES node(s)"
        fi
        bootstrap_servers
        return 0
    fi

    # Fresh cluster (load_state may have read the version of the previous, stopped one).
    VERSION="$REQUESTED_VERSION"
    NODES="${want:-1}"
    BASE_PORT="${RISKSTREAM_KAFKA_BASE_PORT:-19092}"
    is_uint "$BASE_PORT" && ((BASE_PORT >= 1024 && BASE_PORT + 100 + NODES <= 65535)) ||
        die "RISKSTREAM_KAFKA_BASE_PORT must be a port from 1024 to $((65535 - 100 - NODES)), got '$BASE_PORT'"
    find_java
    ensure_libs

    local i port
    for ((i = 1; i <= NODES; i++)); do
        for port in "$(broker_port "$i")" "$(controller_port "$i")"; do
            if port_open "$port"; then
                die "port $port on 127.0.0.1 is already in use (another Kafka? a cluster started from another checkout?); stop it or set RISKSTREAM_KAFKA_BASE_PORT"
            fi
        done
    done

    local t0=$SECONDS
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR"
    CLUSTER_ID="$(gen_uuid)"
    printf 'NODES=%s\nBASE_PORT=%s\nVERSION=%s\nCLUSTER_ID=%s\n' "$NODES" "$BASE_PORT" "$VERSION" "$CLUSTER_ID" >"$STATE_FILE"
    cat >"$RUN_DIR/tools-log4j2.properties" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = ERROR
rootLogger.appenderRef.err.ref = STDERR
EOF
    for ((i = 1; i <= NODES; i++)); do write_node_config "$i"; done
    log "formatting KRaft storage for $NODES node(s) (cluster id $CLUSTER_ID)"
    format_storage
    log "starting Kafka $VERSION: $NODES combined broker+controller node(s), data in ${RUN_DIR#"$REPO_ROOT"/}"
    local ids=()
    STOP_ON_FAILURE=1
    for ((i = 1; i <= NODES; i++)); do
        launch_node "$i"
        ids+=("$i")
    done
    wait_ready "${ids[@]}"
    STOP_ON_FAILURE=0
    log "Kafka $VERSION ready in $((SECONDS - t0))s; bootstrap servers:"
    bootstrap_servers
}

cmd_stop() {
    if ! load_state; then
        log "no cluster state in ${RUN_DIR#"$REPO_ROOT"/}: nothing to stop"
        return 0
    fi
    local i ids=()
    for ((i = 1; i <= NODES; i++)); do ids+=("$i"); done
    if (($(alive_count) == 0)); then
        log "Kafka is not running"
        for i in "${ids[@]}"; do rm -f "$(node_dir "$i")/kafka.pid"; done
        return 0
    fi
    stop_nodes "${ids[@]}"
    log "Kafka stopped (logs kept in ${RUN_DIR#"$REPO_ROOT"/} until the next start)"
}

cmd_status() {
    if ! load_state; then
        log "Kafka is not running"
        return 1
    fi
    local i alive=0 pid
    for ((i = 1; i <= NODES; i++)); do
        if pid="$(node_pid "$i")"; then
            alive=$((alive + 1))
            log "node $i: running (pid $pid), 127.0.0.1:$(broker_port "$i")"
        else
            log "node $i: stopped, 127.0.0.1:$(broker_port "$i")"
        fi
    done
    if ((alive == 0)); then
        log "Kafka is not running"
        return 1
    fi
    log "Kafka $VERSION: $alive of $NODES node(s) running"
    bootstrap_servers
}

cmd_bootstrap() {
    load_state && (($(alive_count) > 0)) || { log "Kafka is not running"; return 1; }
    bootstrap_servers
}

node_arg() {
    [[ $# -eq 1 ]] || die "expected one node number"
    load_state || die "no cluster: run 'scripts/kafka.sh start' first"
    is_uint "$1" && (($1 >= 1 && $1 <= NODES)) || die "node must be a number from 1 to $NODES, got '$1'"
}

cmd_kill_node() {
    node_arg "$@"
    local id="$1" pid
    if ! pid="$(node_pid "$id")"; then
        log "node $id is not running"
        return 0
    fi
    log "killing node $id (pid $pid) with SIGKILL"
    kill -KILL "$pid"
    local waited=0
    while [[ -d "/proc/$pid" ]] && ((waited < 100)); do sleep 0.1; waited=$((waited + 1)); done
    rm -f "$(node_dir "$id")/kafka.pid"
}

cmd_start_node() {
    node_arg "$@"
    local id="$1"
    if node_alive "$id"; then
        log "node $id is already running"
    else
        find_java
        LIBS="$CACHE_DIR/$VERSION/libs"
        [[ -d "$LIBS" ]] || die "the Kafka $VERSION jars are missing from $LIBS"
        port_open "$(broker_port "$id")" && die "port $(broker_port "$id") is in use by another process"
        log "starting node $id on its existing data"
        launch_node "$id"
        wait_ready "$id"
        log "node $id is back"
    fi
    bootstrap_servers
}

main() {
    local cmd="${1:-}"
    (($# > 0)) && shift
    REQUESTED_VERSION="${RISKSTREAM_KAFKA_VERSION:-$(pinned_version)}"
    VERSION="$REQUESTED_VERSION"
    [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "RISKSTREAM_KAFKA_VERSION must look like 4.1.1, got '$VERSION'"
    case "$cmd" in
        -h | --help | help | "")
            usage
            [[ -n "$cmd" ]]
            return
            ;;
    esac
    mkdir -p "$CACHE_DIR"
    # One kafka.sh at a time per checkout (parallel test runners may all call `start`).
    exec 9>"$LOCK_FILE"
    flock -w 300 9 || die "another scripts/kafka.sh is still running (lock $LOCK_FILE)"
    case "$cmd" in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status "$@" ;;
        bootstrap) cmd_bootstrap "$@" ;;
        kill-node) cmd_kill_node "$@" ;;
        start-node) cmd_start_node "$@" ;;
        *)
            usage
            die "unknown command '$cmd'"
            ;;
    esac
}

main "$@"
