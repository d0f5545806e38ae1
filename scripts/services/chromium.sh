# Headless Chromium for the web UI's browser tests (tests/ui/browser.rs): Debian's chromium
# and chromium-driver, driven over WebDriver.
#
# Exports HOOKD_TEST_WEBDRIVER (http://127.0.0.1:<port>, chromedriver's address) and
# HOOKD_TEST_CHROMIUM (the browser binary).

chromium_install() {
  if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
      chromium chromium-driver fonts-dejavu-core)
    "${install[@]}" >&2 || { apt-get update >&2 && "${install[@]}" >&2; }
  fi
}

chromium_start() {
  local port dir
  port=$(free_port)
  dir="$HOOKD_TEST_RUN_DIR/chromium"
  mkdir -p "$dir"
  chromedriver --port="$port" --allowed-ips=127.0.0.1 >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  # chromedriver answers /status once it accepts sessions.
  if ! timeout 10 bash -c "until python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:$port/status', timeout=1)\" 2>/dev/null; do sleep 0.1; done"; then
    echo "chromedriver did not start; its log:" >&2
    cat "$dir/log" >&2
    return 1
  fi
  export HOOKD_TEST_WEBDRIVER="http://127.0.0.1:$port"
  export HOOKD_TEST_CHROMIUM
  HOOKD_TEST_CHROMIUM="$(command -v chromium)"
}

chromium_stop() {
  local pidfile="$HOOKD_TEST_RUN_DIR/chromium/pid"
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  return 0
}
