#!/bin/sh
# The Debian package end to end, run by .ci/run after the other tests
# (it installs and purges the package on the machine it runs on, so it is
# not part of make check): make deb; lintian with no error or warning;
# apt-get install of the .deb; deferd --version, deferctl --help, the
# installed unit verified, the man page found; one job end to end with the
# installed binaries, the installed config (its Redis URL and handlers dir
# overridden for a private redis-server) and the example handler; an
# edited conffile kept across an upgrade (a second build, version
# 0.1.0+upgrade); then apt-get purge, which
# leaves nothing under /etc/deferd nor /usr/sbin/deferd. Needs root.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "deb-test: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (it installs the package)"

make deb
deb=$(ls build/deb/deferd_*.deb | grep -v dbgsym | head -n 1)
DEB_VERSION=0.1.0+upgrade tools/deb.sh >/dev/null
next=build/deb/deferd_0.1.0+upgrade_amd64.deb
[ -f "$next" ] || fail "no $next"
lintian_changes=$(ls build/deb/deferd_0.1.0_*.changes)
echo "deb-test: $deb, $(stat -c %s "$deb") bytes"
lintian --fail-on error,warning "$lintian_changes" > build/deb/lintian.txt 2>&1 ||
    { cat build/deb/lintian.txt; fail "lintian reports errors or warnings"; }
echo "deb-test: lintian: $(grep -vc 'root privileges' build/deb/lintian.txt || true) tag(s)"

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
work=$(mktemp -d)
redis_pid=""; deferd_pid=""
cleanup() {
	[ -z "$deferd_pid" ] || kill "$deferd_pid" 2>/dev/null || true
	[ -z "$redis_pid" ] || kill "$redis_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

/usr/sbin/deferd --version | grep -q '^deferd ' || fail "deferd --version"
/usr/bin/deferctl --help >/dev/null || fail "deferctl --help"
systemd-analyze verify /lib/systemd/system/deferd.service ||
    fail "systemd-analyze verify of the installed unit"
man -w deferd >/dev/null || fail "man -w deferd"
getent passwd deferd >/dev/null || fail "no deferd user after install"
[ "$(stat -c %G:%a /etc/deferd/deferd.yaml)" = deferd:640 ] ||
    fail "/etc/deferd/deferd.yaml is $(stat -c %G:%a /etc/deferd/deferd.yaml)"

# One job with what the package installed.
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' \
    --appendonly no --daemonize no > "$work/redis.log" 2>&1 &
redis_pid=$!
i=0
until [ -S "$work/redis.sock" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "redis-server did not start"
	sleep 0.1
done
mkdir "$work/handlers"
cp /usr/share/doc/deferd/examples/hello "$work/handlers/hello"
chmod 0755 "$work/handlers/hello"
sed -e "s|^\(  url: \).*|\1\"unix://$work/redis.sock\"|" \
    -e "s|^\(  dir: \).*|\1$work/handlers|" /etc/deferd/deferd.yaml > "$work/deferd.yaml"
/usr/sbin/deferd -c "$work/deferd.yaml" 2> "$work/deferd.log" &
deferd_pid=$!
i=0
until grep -q 'ready:' "$work/deferd.log"; do
	i=$((i + 1))
	[ $i -lt 150 ] || { cat "$work/deferd.log"; fail "deferd did not get ready"; }
	sleep 0.1
done
id=$(/usr/bin/deferctl -c "$work/deferd.yaml" enqueue hello 'from the package')
i=0
until /usr/bin/deferctl -c "$work/deferd.yaml" show "$id" 2>/dev/null |
    grep -q '^result.*Hello from deferd: from the package'; do
	i=$((i + 1))
	[ $i -lt 150 ] || { cat "$work/deferd.log"; fail "job $id did not run"; }
	sleep 0.1
done
echo "deb-test: job $id ran with the installed deferd"
kill "$deferd_pid"; wait "$deferd_pid" 2>/dev/null || true; deferd_pid=""

# An edited conffile survives an upgrade (dpkg keeps it, no prompt).
echo "# edited by deb-test" >> /etc/deferd/deferd.yaml
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$next" >/dev/null
dpkg-query -W -f='${Version}' deferd | grep -qx '0.1.0+upgrade' ||
    fail "the upgrade to 0.1.0+upgrade did not happen"
grep -q '^# edited by deb-test' /etc/deferd/deferd.yaml ||
    fail "the upgrade replaced the edited /etc/deferd/deferd.yaml"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq deferd >/dev/null
for p in /etc/deferd /usr/sbin/deferd /usr/bin/deferctl /lib/systemd/system/deferd.service; do
	[ ! -e "$p" ] || fail "$p is left after apt-get purge"
done
echo "deb-test: installed, ran one job, purged: nothing left"
