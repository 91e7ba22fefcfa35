#!/bin/sh
# Make sure the Debian packages deferd builds and tests with are present.
# As root (or with password-less sudo) missing ones are installed; otherwise
# the exact apt-get line is printed and the build stops.
set -u
missing=""
need_pkg() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
# A library found by its file (no command to probe): the first existing path wins.
need_lib() {
	lib=$1 pkg=$2
	for d in /usr/lib/*/faketime /usr/lib/faketime /usr/lib64/faketime; do
		[ -e "$d/$lib" ] && return 0
	done
	missing="$missing $pkg"
}

need_cmd pkg-config pkg-config
need_cmd cc gcc
need_cmd make make
if command -v pkg-config >/dev/null 2>&1; then
	need_pkg hiredis libhiredis-dev
	need_pkg libevent libevent-dev
	need_pkg yaml-0.1 libyaml-dev
	need_pkg check check
else
	missing="$missing libhiredis-dev libevent-dev libyaml-dev check"
fi
need_cmd redis-server redis-server
need_cmd redis-cli redis-tools
# Tests only: tests/check_clock runs deferd under libfaketime (promise P16).
need_lib libfaketime.so.1 faketime
# Tests only: tests/check_persist writes its persistent handlers in python3.
[ -x /usr/bin/python3 ] || missing="$missing python3"
# Cron schedules read time zones from the system's tzdata (cron.c).
[ -e /usr/share/zoneinfo/Europe/Berlin ] || missing="$missing tzdata"
[ -z "$missing" ] && exit 0

line="apt-get install -y$missing"
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive $line -qq && exit 0
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	echo "deps: installing$missing (sudo)"
	sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive $line -qq && exit 0
fi
echo "deps: missing Debian packages; run as root:" >&2
echo "    apt-get update && $line" >&2
exit 1
