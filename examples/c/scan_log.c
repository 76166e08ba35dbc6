/* Scans an MCP event log (one JSON event per line) with libsentinel and prints one verdict
 * per line, as JSON (the form `sentinel scan --format ndjson` writes for it, without the
 * position keys). An event that cannot be read gets the engine's fail-mode verdict, and its
 * error goes to stderr. Exits 1 when any event is blocked, 2 on a usage or engine error.
 *
 *   cc -I ../../sentinel-ffi/include scan_log.c -L ../../target/release -lsentinel -o scan_log
 *   ./scan_log ../events/sample.ndjson
 *
 * (or `cc scan_log.c $(pkg-config --cflags --libs sentinel)` after installing the library).
 * One scratch is reused for every event: scanning allocates only to parse each event. */
#define _POSIX_C_SOURCE 200809L
#include <sentinel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_error(size_t line, const sentinel_error *err) {
    sentinel_str message = sentinel_error_message(err);
    fprintf(stderr, "line %zu: %.*s\n", line, (int)message.len, message.data);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EVENTS.ndjson\n", argv[0]);
        return 2;
    }
    FILE *in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
    if (in == NULL) {
        perror(argv[1]);
        return 2;
    }
    sentinel_engine *engine = NULL;
    sentinel_error *err = NULL;
    if (sentinel_engine_new(NULL, 0, SENTINEL_CONFIG_TOML, &engine, &err) != SENTINEL_OK) {
        print_error(0, err);
        sentinel_error_free(err);
        return 2;
    }
    sentinel_scratch *scratch = NULL;
    if (sentinel_scratch_new(engine, &scratch) != SENTINEL_OK) {
        sentinel_engine_free(engine);
        return 2;
    }

    char *line = NULL, *json = NULL;
    size_t cap = 0, json_cap = 0, number = 0, blocked = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) != -1) {
        number++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        const sentinel_verdict *verdict = NULL;
        sentinel_result r = sentinel_engine_scan_with(engine, scratch, (const uint8_t *)line, (size_t)len, &verdict, &err);
        if (r != SENTINEL_OK) {
            print_error(number, err);
            sentinel_error_free(err);
            err = NULL;
        }
        if (verdict == NULL) continue; /* a NULL argument: cannot happen here */
        blocked += sentinel_verdict_blocked(verdict);
        size_t need = 0;
        if (sentinel_verdict_json(verdict, (uint8_t *)json, json_cap, &need) == SENTINEL_BUFFER_TOO_SMALL) {
            json_cap = need * 2;
            json = realloc(json, json_cap);
            if (json == NULL || sentinel_verdict_json(verdict, (uint8_t *)json, json_cap, &need) != SENTINEL_OK) return 2;
        }
        fwrite(json, 1, need, stdout);
        fputc('\n', stdout);
    }
    free(line);
    free(json);
    if (in != stdin) fclose(in);
    sentinel_scratch_free(scratch);
    sentinel_engine_free(engine);
    return blocked > 0 ? 1 : 0;
}
