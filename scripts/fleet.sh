#!/usr/bin/env bash
# fleet.sh — the whole Wharf fleet on one machine, for tests and demos: a fresh PostgreSQL database, the S3 store,
# two or more Wharf nodes on their own ports sharing them, and nginx in front (deploy/nginx.conf: TLS with a
# self-signed certificate, round-robin over the nodes).
#
#   scripts/fleet.sh up [DIR]     start everything; prints `export FLEET_...` lines (eval them) and writes DIR/fleet.env
#   scripts/fleet.sh down [DIR]   stop exactly what `up` started (nginx, the nodes, and the S3 server if `up` had to
#                                 start it), drop the database, empty the bucket prefix, and remove DIR
#   scripts/fleet.sh status [DIR] exit 0 when nginx and every node answer
#
# DIR defaults to ./fleet. Settings (environment, all optional):
#   FLEET_NODES=2                 how many Wharf nodes
#   FLEET_BLOB_STORE=s3           s3 (a prefix of bucket FLEET_S3_BUCKET, default wharf-fleet) or fs (one blob folder
#                                 every node shares, served by nginx through X-Accel-Redirect)
#   FLEET_S3_REDIRECT=off         on: blob GETs answer 307 to presigned S3 URLs (WHARF_S3_REDIRECT)
#   FLEET_S3_TLS=off              on: a second nginx puts TLS (the fleet's certificate) in front of a plain-HTTP S3
#                                 endpoint, and the nodes use it (NODE_EXTRA_CA_CERTS): clients that refuse to follow
#                                 a redirect from https to http (gem, NuGet) then fetch redirected blobs over https
#   FLEET_ACCEL=on                with fs: WHARF_ACCEL_REDIRECT=/_blobs/ (off: Wharf sends the bytes itself)
#   FLEET_PORT                    nginx's TLS port (default: a free port)
#   FLEET_PG_URL                  PostgreSQL to create the database in (default WHARF_TEST_DATABASE_URL, else
#                                 postgres://postgres@127.0.0.1:5432/postgres)
#   S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION (or the WHARF_TEST_S3_* names the tests use): the
#                                 S3 store; when unset, ../shared/tools/s3-server.sh starts (or reuses) one
#   WHARF_*                       passed to every node as they are (e.g. WHARF_LOG_LEVEL, WHARF_S3_REDIRECT_MIN_BYTES)
# Progress goes to stderr; only the export lines go to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
DIR=${2:-${FLEET_DIR:-./fleet}}
log() { echo "fleet: $*" >&2; }
die() { log "$*"; exit 1; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

wait_http() { # URL SECONDS [curl options]
  local url=$1 t=$2; shift 2
  for _ in $(seq 1 $((t * 10))); do
    curl -fsS -o /dev/null "$@" "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Renders deploy/nginx.conf: every line ending in "# @NAME" gets the value given as NAME=VALUE (the text between the
# directive and its ";"); "# @node" lines are replaced by one line per upstream given as node=HOST:PORT.
render_nginx() { # OUT NAME=VALUE...
  local out=$1; shift
  node - "$ROOT/deploy/nginx.conf" "$out" "$@" <<'EOF'
const fs = require('fs');
const [src, out, ...pairs] = process.argv.slice(2);
const values = {}; const nodes = [];
for (const p of pairs) { const i = p.indexOf('='); const k = p.slice(0, i), v = p.slice(i + 1); if (k === 'node') nodes.push(v); else values[k] = v; }
const used = new Set(); let nodeDone = false;
const lines = fs.readFileSync(src, 'utf8').split('\n').flatMap((line) => {
  const m = /^(\s*)(\S+)\s+(.*?);(\s*)#\s*@([a-z_]+)\s*$/.exec(line);
  if (!m) return [line];
  const [, indent, directive, value, , name] = m;
  if (name === 'node') {
    if (!nodes.length || nodeDone) return nodes.length ? [] : [line];
    nodeDone = true;
    const opts = value.split(/\s+/).slice(1).join(' ');
    return nodes.map((n) => `${indent}${directive} ${n}${opts ? ' ' + opts : ''}; # @node`);
  }
  if (!(name in values)) return [line];
  used.add(name);
  return [`${indent}${directive} ${values[name]}; # @${name}`];
});
for (const k of Object.keys(values)) if (!used.has(k)) { console.error(`fleet: deploy/nginx.conf has no "# @${k}" line`); process.exit(1); }
fs.writeFileSync(out, lines.join('\n'));
EOF
}

pg_admin() { # SQL
  psql -q -v ON_ERROR_STOP=1 "$FLEET_PG_URL" -c "$1" >/dev/null
}

s3_empty_prefix() { # deletes every object and unfinished multipart upload under WHARF_S3_PREFIX
  (cd "$ROOT" && node --no-warnings --input-type=module - <<'EOF'
import { S3Client, ListObjectsV2Command, DeleteObjectsCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
const e = process.env;
const s3 = new S3Client({ endpoint: e.WHARF_S3_ENDPOINT, region: e.WHARF_S3_REGION, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
const Bucket = e.WHARF_S3_BUCKET, Prefix = e.WHARF_S3_PREFIX;
let token;
do {
  const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken: token }));
  const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
  if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys, Quiet: true } }));
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (token);
const mp = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix }));
for (const u of mp.Uploads ?? []) await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
s3.destroy();
EOF
  )
}

up() {
  [ -e "$DIR/fleet.env" ] && die "$DIR already holds a fleet: run scripts/fleet.sh down $DIR first"
  command -v nginx >/dev/null || die "nginx is not installed (apt-get install -y nginx)"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  local nodes=${FLEET_NODES:-2} store=${FLEET_BLOB_STORE:-s3} id
  id=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  FLEET_PG_URL=${FLEET_PG_URL:-${WHARF_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
  local state="$DIR/fleet.env"
  : >"$state.partial"
  rec() { printf 'export %s=%q\n' "$1" "$2" >>"$state.partial"; }
  rec FLEET_DIR "$DIR"
  rec FLEET_PG_URL "$FLEET_PG_URL"
  trap 'log "up failed; cleaning up"; mv -f "$state.partial" "$state"; down_dir "$DIR" || true' ERR

  # PostgreSQL: a fresh database.
  local db="wharf_fleet_$id"
  pg_admin "create database $db"
  local dburl
  dburl=$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];console.log(u.toString())' "$FLEET_PG_URL" "$db")
  rec FLEET_DATABASE "$db"
  rec WHARF_DATABASE_URL "$dburl"
  rec WHARF_BLOB_STORE "$store"

  # The blob store.
  if [ "$store" = s3 ]; then
    local ep=${S3_ENDPOINT:-${WHARF_TEST_S3_ENDPOINT:-}}
    if [ -z "$ep" ]; then
      local s3sh="$ROOT/../shared/tools/s3-server.sh"
      [ -x "$s3sh" ] || die "no S3: set S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (or have ../shared/tools/s3-server.sh)"
      if ! "$s3sh" status >/dev/null 2>&1; then rec FLEET_S3_STARTED "$s3sh"; fi
      eval "$("$s3sh")"
      ep=$S3_ENDPOINT
    fi
    local key=${S3_ACCESS_KEY_ID:-${WHARF_TEST_S3_ACCESS_KEY_ID:-}} secret=${S3_SECRET_ACCESS_KEY:-${WHARF_TEST_S3_SECRET_ACCESS_KEY:-}}
    # Clients send their registry credentials along a redirect to the same host name (Go compares host names, not
    # ports), and S3 refuses a request carrying both those and a presigned signature: the nodes sign URLs for
    # "localhost" when the store is on 127.0.0.1, as a real S3 is on a host of its own.
    [ "${FLEET_S3_REDIRECT:-off}" = on ] && ep=${ep/127.0.0.1/localhost}
    if [ "${FLEET_S3_TLS:-off}" = on ]; then
      # The front forwards Host as the client sent it, so presigned signatures (host localhost:PORT) still match.
      S3_BACKEND=$(node -e 'console.log(new URL(process.argv[1]).host)' "$ep")
      S3_TLS_PORT=$(free_port)
      ep="https://localhost:$S3_TLS_PORT"
      rec NODE_EXTRA_CA_CERTS "$DIR/tls/cert.pem"
      rec FLEET_S3_ACCESS_LOG "$DIR/s3tls/logs/access.log"
    fi
    rec WHARF_S3_ENDPOINT "$ep"
    rec WHARF_S3_REGION "${S3_REGION:-${WHARF_TEST_S3_REGION:-us-east-1}}"
    rec WHARF_S3_BUCKET "${FLEET_S3_BUCKET:-wharf-fleet}"
    rec WHARF_S3_PREFIX "fleet-$id/"
    rec WHARF_S3_FORCE_PATH_STYLE true
    rec AWS_ACCESS_KEY_ID "$key"
    rec AWS_SECRET_ACCESS_KEY "$secret"
    rec WHARF_S3_REDIRECT "${FLEET_S3_REDIRECT:-off}"
  else
    mkdir -p "$DIR/shared/blobs"
    [ "${FLEET_ACCEL:-on}" = on ] && rec WHARF_ACCEL_REDIRECT /_blobs/
  fi
  rec WHARF_TRUST_PROXY 127.0.0.1
  rec WHARF_HOST 127.0.0.1
  # shellcheck disable=SC1090
  set -a; . "$state.partial"; set +a

  # TLS: a self-signed certificate for 127.0.0.1 and localhost.
  mkdir -p "$DIR/tls" "$DIR/nginx/logs" "$DIR/nginx/body" "$DIR/nginx/proxy"
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null
  rec FLEET_CA "$DIR/tls/cert.pem"
  if [ -n "${S3_TLS_PORT:-}" ]; then
    mkdir -p "$DIR/s3tls/logs" "$DIR/s3tls/body" "$DIR/s3tls/proxy"
    cat >"$DIR/s3tls/nginx.conf" <<CONF
user $(id -un);
pid $DIR/s3tls/nginx.pid;
error_log $DIR/s3tls/logs/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path $DIR/s3tls/body;
  proxy_temp_path $DIR/s3tls/proxy;
  # Which authentication each request carried (its scheme only): a presigned GET must carry none.
  map \$http_authorization \$auth_scheme { default "-"; "~^(?<authscheme>\S+)" \$authscheme; }
  log_format s3 '\$remote_addr "\$request" \$status \$body_bytes_sent auth=\$auth_scheme';
  access_log $DIR/s3tls/logs/access.log s3;
  server {
    listen 127.0.0.1:$S3_TLS_PORT ssl;
    ssl_certificate $DIR/tls/cert.pem;
    ssl_certificate_key $DIR/tls/key.pem;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    location / {
      proxy_pass http://$S3_BACKEND;
      proxy_set_header Host \$http_host;
      proxy_set_header Connection "";
    }
  }
}
CONF
    nginx -q -p "$DIR/s3tls" -c "$DIR/s3tls/nginx.conf" 2>&1 | grep -v 'the "user" directive' >&2 || true
    local up=''
    for _ in $(seq 1 100); do
      curl -sS -o /dev/null --cacert "$DIR/tls/cert.pem" "https://localhost:$S3_TLS_PORT/" 2>/dev/null && { up=1; break; }
      sleep 0.1
    done
    [ -n "$up" ] || die "the S3 TLS front does not answer on $S3_TLS_PORT"
  fi

  # The nodes run the compiled server, as `npm start` does (scripts/build.mjs rebuilds only when sources changed).
  (cd "$ROOT" && node scripts/build.mjs) >&2 || die "scripts/build.mjs failed"
  # The nodes: the first one alone (it migrates the new database), then the others.
  local ports=() upstreams=() i port data
  for i in $(seq 1 "$nodes"); do
    port=$(free_port)
    data="$DIR/node$i"
    [ "$store" = fs ] && data="$DIR/shared"
    mkdir -p "$data"
    # exec: the recorded pid is the node's own (down and the tests signal it).
    (cd "$ROOT" && WHARF_PORT=$port WHARF_DATA=$data exec node dist/main.js >"$DIR/node$i.log" 2>&1 </dev/null) &
    echo $! >"$DIR/node$i.pid"
    ports+=("$port")
    upstreams+=("node=127.0.0.1:$port")
    if [ "$i" = 1 ]; then wait_http "http://127.0.0.1:$port/healthz" 60 || { cat "$DIR/node1.log" >&2; die "node 1 did not start"; }; fi
  done
  for i in $(seq 1 "$nodes"); do
    wait_http "http://127.0.0.1:${ports[$((i - 1))]}/healthz" 60 || { cat "$DIR/node$i.log" >&2; die "node $i did not start"; }
  done
  rec FLEET_NODE_PORTS "${ports[*]}"

  # nginx in front, from deploy/nginx.conf with this fleet's paths and ports.
  local lport=${FLEET_PORT:-$(free_port)}
  local user
  user=$(id -un)
  render_nginx "$DIR/nginx/nginx.conf" "${upstreams[@]}" \
    "user=$user" "pid=$DIR/nginx/nginx.pid" "error_log=$DIR/nginx/logs/error.log warn" \
    "client_body_temp_path=$DIR/nginx/body" "proxy_temp_path=$DIR/nginx/proxy" \
    "access_log=$DIR/nginx/logs/access.log wharf" "listen=127.0.0.1:$lport ssl" \
    "ssl_certificate=$DIR/tls/cert.pem" "ssl_certificate_key=$DIR/tls/key.pem" "blob_folder=$DIR/shared/blobs/"
  nginx -q -t -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>&1 | grep -v 'the "user" directive' >&2 || true
  nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf"
  rec FLEET_URL "https://127.0.0.1:$lport"
  wait_http "https://127.0.0.1:$lport/healthz" 30 --cacert "$DIR/tls/cert.pem" || die "nginx does not answer on $lport"
  trap - ERR
  mv "$state.partial" "$state"
  log "up: https://127.0.0.1:$lport over $nodes nodes (ports ${ports[*]}), blob store $store, state in $DIR"
  cat "$state"
}

stop_pid() { # PIDFILE: TERM, then KILL after 10 s
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down_dir() {
  local dir=$1
  [ -f "$dir/fleet.env" ] || die "no fleet in $dir"
  # shellcheck disable=SC1091
  set -a; . "$dir/fleet.env"; set +a
  if [ -f "$dir/nginx/nginx.pid" ]; then
    local pid
    pid=$(cat "$dir/nginx/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  local f
  for f in "$dir"/node*.pid; do stop_pid "$f"; done
  if [ -n "${FLEET_DATABASE:-}" ]; then pg_admin "drop database if exists $FLEET_DATABASE with (force)" || log "could not drop $FLEET_DATABASE"; fi
  if [ "${WHARF_BLOB_STORE:-}" = s3 ] && [ -n "${WHARF_S3_PREFIX:-}" ]; then s3_empty_prefix || log "could not empty s3://$WHARF_S3_BUCKET/$WHARF_S3_PREFIX"; fi
  if [ -f "$dir/s3tls/nginx.pid" ]; then
    local spid
    spid=$(cat "$dir/s3tls/nginx.pid")
    kill -QUIT "$spid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "${FLEET_S3_STARTED:-}" ]; then "$FLEET_S3_STARTED" stop >&2 || true; fi
  if [ "${FLEET_KEEP:-}" = 1 ]; then rm -f "$dir/fleet.env"; else rm -rf "$dir"; fi
  log "down: $dir"
}

case "$cmd" in
  up) up ;;
  down) down_dir "$(cd "$DIR" 2>/dev/null && pwd || echo "$DIR")" ;;
  status)
    # shellcheck disable=SC1091
    . "$DIR/fleet.env"
    wait_http "$FLEET_URL/healthz" 1 --cacert "$FLEET_CA" || exit 1
    for p in $FLEET_NODE_PORTS; do wait_http "http://127.0.0.1:$p/healthz" 1 || exit 1; done
    ;;
  *) echo "usage: scripts/fleet.sh up|down|status [DIR]" >&2; exit 2 ;;
esac
