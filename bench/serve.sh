# Sourced by the catalog benches (api.sh, scheduler.sh): builds the release
# binary (or takes $COFFER), then serves a fresh data directory under $WORK
# with a one-file share on 127.0.0.1:$PORT. Sets COFFER and SERVER; the
# server is stopped on exit.
"$ROOT/scripts/ensure-deps.sh"
if [ -z "${COFFER:-}" ]; then  # COFFER=path/to/coffer uses that binary instead
    COFFER=$("$ROOT/scripts/build-release.sh" 2>/dev/null)
fi
rm -rf "$WORK" && mkdir -p "$WORK/resources/share"
echo "bench" > "$WORK/resources/share/file.txt"
"$COFFER" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT --resource-root "$WORK/resources" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
