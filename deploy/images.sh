#!/usr/bin/env bash
# deploy/images.sh: builds the Docker image proxypool/proxyd:<version>
# offline, from the build's proxyd binary and exactly the libraries ldd
# names for it (no base image, no registry), and imports it into a Docker
# daemon through the Engine API (POST /images/create?fromSrc=-). The image
# runs proxyd as the unprivileged user "proxy". It is rebuilt only when its
# inputs change: a stamp file holds the hash of the binary, the libraries,
# the generated files and this script, and the image must be in the daemon.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/images.sh [--socket PATH] [--build DIR] [--force]

Builds proxypool/proxyd:<version> (<version>: proxyd --version) from
DIR/bin/proxyd and the libraries it links, and imports it into the Docker
daemon on PATH (default /run/proxypool/dockerd-pp.sock, deploy/dockerd's).
Skips the import when DIR/images/proxyd.stamp matches the inputs and the
daemon has the image; --force imports in any case.

The image holds /usr/bin/proxyd, its libraries at the paths ldd gives, the
dynamic loader, /etc/passwd and /etc/group naming root and proxy (13:13),
/etc/nsswitch.conf and an empty /tmp; USER proxy, CMD /usr/bin/proxyd.
EOF
}

die() {
    echo "images: $*" >&2
    exit 1
}

socket=/run/proxypool/dockerd-pp.sock
build=build
force=0
while [ "$#" -gt 0 ]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --socket)
        [ "$#" -ge 2 ] || die "--socket needs a value"
        socket=$2
        shift 2
        ;;
    --build)
        [ "$#" -ge 2 ] || die "--build needs a value"
        build=$2
        shift 2
        ;;
    --force)
        force=1
        shift
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

bin=$build/bin/proxyd
[ -x "$bin" ] || die "no $bin (run make first)"
[ -S "$socket" ] || die "no Docker socket at $socket (deploy/dockerd up)"
version=$("$bin" --version | awk '{ print $2 }')
[[ "$version" =~ ^[0-9A-Za-z._-]+$ ]] || die "cannot read proxyd's version"
image=proxypool/proxyd:$version

api() { curl -sS --max-time 120 --unix-socket "$socket" "$@"; }

# The libraries: every "=> /path" ldd prints and the loader (a line that
# is a bare absolute path).
mapfile -t libs < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
[ "${#libs[@]}" -gt 0 ] || die "ldd names no library for $bin"

passwd='root:x:0:0:root:/root:/usr/sbin/nologin
proxy:x:13:13:proxy:/nonexistent:/usr/sbin/nologin
'
group='root:x:0:
proxy:x:13:
'
nsswitch='passwd: files
group: files
hosts: files
'

stamp_dir=$build/images
stamp=$stamp_dir/proxyd.stamp
hash=$({
    sha256sum "$0" "$bin" "${libs[@]}"
    printf '%s%s%s' "$passwd" "$group" "$nsswitch" | sha256sum
} | sha256sum | awk '{ print $1 }')

have_image() { api -o /dev/null -w '%{http_code}' "http://docker/images/$image/json" | grep -qx 200; }

if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && have_image; then
    echo "images: $image up to date ($stamp)"
    exit 0
fi

root=$(mktemp -d /tmp/pp-image.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$bin" "$root/usr/bin/proxyd"
for l in "${libs[@]}"; do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
done
# Debian's loader path is /lib64/ld-linux-x86-64.so.2 through a symlink to
# /lib; the binary names that path, so it is in the tree as a file.
printf '%s' "$passwd" >"$root/etc/passwd"
printf '%s' "$group" >"$root/etc/group"
printf '%s' "$nsswitch" >"$root/etc/nsswitch.conf"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$root.tar" .
size=$(stat -c %s "$root.tar")
changes='changes=USER%20proxy&changes=CMD%20%5B%22%2Fusr%2Fbin%2Fproxyd%22%5D'
out=$(api -X POST -H 'Content-Type: application/x-tar' --data-binary "@$root.tar" \
    "http://docker/images/create?fromSrc=-&repo=proxypool%2Fproxyd&tag=$version&$changes") ||
    die "import into $socket failed"
rm -f "$root.tar"
if grep -q '"error' <<<"$out"; then
    die "the daemon refused the image: $out"
fi
have_image || die "imported, but the daemon has no $image: $out"
mkdir -p "$stamp_dir"
echo "$hash" >"$stamp"
echo "images: imported $image ($((size / 1024)) KiB tar: proxyd and ${#libs[@]} libraries) into $socket"
