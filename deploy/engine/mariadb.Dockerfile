# A stand-in for the `mariadb:10.11` image where no registry is reachable (CI): Debian 12's
# MariaDB 10.11 with an entry point that honours what docker-compose.yml asks of the real image
# (MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_ROOT_HOST, MYSQL_DATABASE; server options as arguments).
ARG BASE
FROM ${BASE}
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server mariadb-client \
 && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* \
 && mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld /var/lib/mysql
COPY mariadb-entrypoint.sh /usr/local/bin/mariadb-entrypoint.sh
EXPOSE 3306
ENTRYPOINT ["/usr/local/bin/mariadb-entrypoint.sh"]
