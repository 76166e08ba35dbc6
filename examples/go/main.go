// Command sentinel-scan scans an MCP event log (one JSON event per line) with libsentinel
// through cgo and prints one verdict per line as JSON, as examples/c/scan_log.c does.
//
//	CGO_LDFLAGS="-L../../target/release -Wl,-rpath,$PWD/../../target/release" go run . ../events/sample.ndjson
//
// Exits 1 when any event is blocked, 2 on a usage or engine error.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../sentinel-ffi/include
#cgo LDFLAGS: -lsentinel
#include <stdlib.h>
#include <sentinel.h>
*/
import "C"

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"unsafe"
)

// Engine is a compiled engine; safe for concurrent scans.
type Engine struct{ ptr *C.sentinel_engine }

// Verdict is what a scan decided.
type Verdict struct {
	Blocked bool
	JSON    []byte
}

func errorOf(err *C.sentinel_error) error {
	if err == nil {
		return errors.New("sentinel: unknown error")
	}
	defer C.sentinel_error_free(err)
	m := C.sentinel_error_message(err)
	return errors.New(C.GoStringN(m.data, C.int(m.len)))
}

// NewEngine builds the engine with the built-in rules and the default policy.
func NewEngine() (*Engine, error) {
	var e *C.sentinel_engine
	var err *C.sentinel_error
	if C.sentinel_engine_new(nil, 0, C.SENTINEL_CONFIG_TOML, &e, &err) != C.SENTINEL_OK {
		return nil, errorOf(err)
	}
	return &Engine{e}, nil
}

// Close frees the engine.
func (e *Engine) Close() { C.sentinel_engine_free(e.ptr) }

// Scan scans one event given as JSON. An event that cannot be read returns the engine's
// fail-mode verdict together with the error.
func (e *Engine) Scan(event []byte) (Verdict, error) {
	var v *C.sentinel_verdict
	var cerr *C.sentinel_error
	var data *C.uint8_t
	if len(event) > 0 {
		data = (*C.uint8_t)(C.CBytes(event))
		defer C.free(unsafe.Pointer(data))
	}
	r := C.sentinel_engine_scan(e.ptr, data, C.size_t(len(event)), &v, &cerr)
	var scanErr error
	if r != C.SENTINEL_OK {
		scanErr = errorOf(cerr)
	}
	if v == nil {
		return Verdict{Blocked: true}, scanErr
	}
	defer C.sentinel_verdict_free(v)
	var need C.size_t
	C.sentinel_verdict_json(v, nil, 0, &need)
	buf := make([]byte, int(need))
	if need > 0 {
		C.sentinel_verdict_json(v, (*C.uint8_t)(unsafe.Pointer(&buf[0])), need, &need)
	}
	return Verdict{Blocked: bool(C.sentinel_verdict_blocked(v)), JSON: buf}, scanErr
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sentinel-scan EVENTS.ndjson")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	engine, err := NewEngine()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer engine.Close()
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := bufio.NewWriter(os.Stdout)
	blocked, line := 0, 0
	for in.Scan() {
		line++
		if len(in.Bytes()) == 0 {
			continue
		}
		v, err := engine.Scan(in.Bytes())
		if err != nil {
			fmt.Fprintf(os.Stderr, "line %d: %v\n", line, err)
		}
		if v.Blocked {
			blocked++
		}
		out.Write(v.JSON)
		out.WriteByte('\n')
	}
	out.Flush()
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if blocked > 0 {
		os.Exit(1)
	}
}
