#!/bin/bash
# The stand-in MariaDB's entry point: on an empty data directory, initialise it with root
# reachable from MYSQL_ROOT_HOST without a password and MYSQL_DATABASE created; then run the
# server with the arguments given (docker-compose.yml's `command`).
set -euo pipefail
datadir=/var/lib/mysql
if [[ ! -d "$datadir/mysql" ]]; then
  [[ "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" =~ ^(yes|1|true)$ ]] \
    || { echo "this stand-in supports only MYSQL_ALLOW_EMPTY_PASSWORD=yes" >&2; exit 1; }
  chown mysql:mysql "$datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
    --skip-test-db > /dev/null
  socket=/run/mysqld/init.sock
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
  pid=$!
  for _ in $(seq 1 300); do
    mariadb-admin --socket="$socket" -uroot ping > /dev/null 2>&1 && break
    sleep 0.1
  done
  host="${MYSQL_ROOT_HOST:-%}"
  {
    echo "CREATE USER IF NOT EXISTS 'root'@'$host' IDENTIFIED BY '';"
    echo "GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
    if [[ -n "${MYSQL_DATABASE:-}" ]]; then echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"; fi
  } | mariadb --socket="$socket" -uroot
  mariadb-admin --socket="$socket" -uroot shutdown
  wait "$pid" || true
  echo "initialised $datadir (root@'$host' without a password${MYSQL_DATABASE:+, database $MYSQL_DATABASE})"
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 "$@"
