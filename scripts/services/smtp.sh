# A real SMTP server for the failure-email tests: aiosmtpd from PyPI, delivering every message
# into a maildir that the tests read.
#
# Exports HOOKD_TEST_SMTP_URL (smtp://127.0.0.1:<port>) and HOOKD_TEST_MAILDIR.

SMTP_VENV="${HOME}/.cache/hookd/aiosmtpd-venv"

smtp_install() {
  if [ ! -x "$SMTP_VENV/bin/aiosmtpd" ]; then
    python3 -m venv "$SMTP_VENV"
    "$SMTP_VENV/bin/pip" install --quiet 'aiosmtpd==1.4.6'
  fi
}

smtp_start() {
  local port dir
  port=$(free_port)
  dir="$HOOKD_TEST_RUN_DIR/smtp"
  mkdir -p "$dir/maildir/tmp" "$dir/maildir/new" "$dir/maildir/cur"
  "$SMTP_VENV/bin/aiosmtpd" -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$dir/maildir" \
    >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  local tries=0
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ]; then
      echo "aiosmtpd did not start; its log:" >&2
      cat "$dir/log" >&2
      return 1
    fi
    sleep 0.1
  done
  export HOOKD_TEST_SMTP_URL="smtp://127.0.0.1:$port"
  export HOOKD_TEST_MAILDIR="$dir/maildir"
}

smtp_stop() {
  local pidfile="$HOOKD_TEST_RUN_DIR/smtp/pid"
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  return 0
}
