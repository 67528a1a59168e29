#!/bin/sh
# Installs what `npm run bench:keeper` runs besides longwire: etcd 3.4 (Debian
# etcd-server) and ZooKeeper 3.8 (Debian zookeeper) with a Java runtime.
# Neither service is started here: the bench starts its own members in temp
# dirs and stops them. Not part of .ci/run: the bench is not in npm test.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends etcd-server zookeeper default-jre-headless
