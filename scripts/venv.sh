# Sourced by scripts/test, scripts/test-newest and scripts/wheel-smoke: a virtual environment on the
# machine's python3, made once and reused while nothing it was made from has changed.
#
# Why a venv: Debian's system Python is "externally managed" (PEP 668), so a bare `pip install`
# fails there, and installing into it would mix linkage's dependencies with the system's.

# ensure_venv DIR PIP_ARGS...: create DIR if needed (installing Debian's python3-venv when root and
# it is missing), then `pip install PIP_ARGS` unless DIR/.linkage-stamp says it was done with the
# same arguments, pyproject.toml and constraints.txt. Prints the venv's python.
ensure_venv() {
  local dir="$1"; shift
  local stamp
  stamp="$(python3 --version 2>&1) $* $(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum)"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.linkage-stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$dir/bin/python"
    return
  fi
  if ! [ -x "$dir/bin/python" ]; then
    rm -rf "$dir"
    if ! python3 -m venv "$dir" >/dev/null 2>&1; then
      rm -rf "$dir"
      install_debian_package python3-venv >&2
      python3 -m venv "$dir" >&2
    fi
  fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
  echo "$stamp" > "$dir/.linkage-stamp"
  echo "$dir/bin/python"
}

# install_debian_package NAME: apt-get install NAME when running as root on a machine with apt.
install_debian_package() {
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null)
  else
    echo "scripts: $1 is missing: install it (sudo apt-get install $1)" >&2
    return 1
  fi
}
