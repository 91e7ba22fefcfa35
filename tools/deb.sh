#!/bin/sh
# make deb: the Debian package, built with Debian's own tools
# (dpkg-buildpackage -us -uc -b, debhelper compat 13) in a copy of the
# tree, so that the package's clean step leaves build/ alone. The .deb,
# its .changes and the build log end up in build/deb/. As root (or with
# password-less sudo) missing build tools are installed, as make run does.
# DEB_VERSION, when set, replaces the version of debian/changelog in the
# copy (tests/deb-test.sh builds a second version to upgrade to).
set -eu
cd "$(dirname "$0")/.."
need="debhelper dpkg-dev fakeroot lintian pkg-config libhiredis-dev libevent-dev libyaml-dev"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
		    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; }
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	else
		echo "deb: missing packages; run: apt-get install -y$missing" >&2
		exit 1
	fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/deferd"
if [ -d .git ]; then
	git ls-files -z | xargs -0 tar -cf - | (cd "$work/deferd" && tar -xf -)
else
	tar --exclude=./build --exclude=./build-asan -cf - . | (cd "$work/deferd" && tar -xf -)
fi
if [ -n "${DEB_VERSION:-}" ]; then
	sed -i "1s/(.*)/($DEB_VERSION)/" "$work/deferd/debian/changelog"
fi
mkdir -p build/deb
if ! (cd "$work/deferd" && dpkg-buildpackage -us -uc -b) > build/deb/build.log 2>&1; then
	tail -n 30 build/deb/build.log >&2
	echo "deb: dpkg-buildpackage failed; the whole log is build/deb/build.log" >&2
	exit 1
fi
[ -n "${DEB_VERSION:-}" ] ||
    rm -f build/deb/*.deb build/deb/*.changes build/deb/*.buildinfo
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo build/deb/
ls -l build/deb/*.deb
