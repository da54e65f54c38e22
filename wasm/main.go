//go:build js && wasm

// Command wasm is golora's WebAssembly binding: built to web/dist/golora.wasm, it runs inside the page's Web Worker
// (web/worker.js) and registers one global object with one function:
//
//	golora.version                                  -> "golora wasm 2"
//	golora.call(method: string, args: string, bulk?: {name: Uint8Array | Float32Array})
//	                                                -> {json: string, bulk: {name: Uint8Array | Float32Array}}
//
// args and json are JSON objects: the arguments and the reply of train.Engine's method (core/train/engine.go lists
// them, with their arguments and replies). Bulk arrays cross beside the JSON, each in one copy: a model file, a
// snapshot, a gradient, the losses of a chunk of steps. A failure is the reply {"error": ..., "field"?, "fields"?}; a
// panic is recovered into one, so no call kills the instance. Nothing here trains, decodes settings or formats
// results: train.Engine does, natively tested and fuzzed; this file only converts JavaScript values.
package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"
	"unsafe"

	"golora/core/train"
)

func main() {
	e := train.NewEngine()
	golora := js.ValueOf(map[string]any{"version": "golora wasm 2"})
	golora.Set("call", js.FuncOf(func(_ js.Value, args []js.Value) any { return call(e, args) }))
	js.Global().Set("golora", golora)
	select {} // keep the instance alive: every call arrives through golora.call
}

// call is golora.call: it converts the arguments, runs the method, and converts the reply.
func call(e *train.Engine, args []js.Value) (out any) {
	defer func() {
		if r := recover(); r != nil {
			out = failure(fmt.Sprintf("internal error: %v", r))
		}
	}()
	if len(args) < 2 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeString {
		return failure("golora.call(method: string, args: JSON string, bulk?: object)")
	}
	in, err := readBulk(args)
	if err != nil {
		return failure(err.Error())
	}
	text, bulk := e.Call(args[0].String(), []byte(args[1].String()), in)
	return reply(string(text), bulk)
}

// failure is the reply {"error": msg}.
func failure(msg string) js.Value {
	text, _ := json.Marshal(map[string]string{"error": msg})
	return reply(string(text), train.Bulk{})
}

// readBulk copies the bulk object's typed arrays (args[2], optional) into Go, one bulk copy each.
func readBulk(args []js.Value) (train.Bulk, error) {
	in := train.Bulk{Bytes: map[string][]byte{}, Floats: map[string][]float32{}}
	if len(args) < 3 || args[2].IsUndefined() || args[2].IsNull() {
		return in, nil
	}
	obj := args[2]
	if obj.Type() != js.TypeObject {
		return in, fmt.Errorf("bulk: want an object of typed arrays")
	}
	keys := js.Global().Get("Object").Call("keys", obj)
	u8, f32 := js.Global().Get("Uint8Array"), js.Global().Get("Float32Array")
	for i := range keys.Length() {
		name := keys.Index(i).String()
		v := obj.Get(name)
		switch {
		case v.InstanceOf(u8):
			b := make([]byte, v.Length())
			js.CopyBytesToGo(b, v)
			in.Bytes[name] = b
		case v.InstanceOf(f32):
			f := make([]float32, v.Length())
			if len(f) > 0 {
				view := u8.New(v.Get("buffer"), v.Get("byteOffset"), 4*len(f))
				js.CopyBytesToGo(unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f)), view)
			}
			in.Floats[name] = f
		default:
			return in, fmt.Errorf("bulk %q: want a Uint8Array or a Float32Array", name)
		}
	}
	return in, nil
}

// reply is {json, bulk}: the reply's text and its arrays, each copied into a new typed array.
func reply(text string, out train.Bulk) js.Value {
	bulk := js.Global().Get("Object").New()
	for name, b := range out.Bytes {
		bulk.Set(name, uint8Array(b))
	}
	for name, f := range out.Floats {
		var raw []byte
		if len(f) > 0 { // wasm and JavaScript are both little-endian: the bytes are the Float32Array's
			raw = unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
		}
		bulk.Set(name, js.Global().Get("Float32Array").New(uint8Array(raw).Get("buffer")))
	}
	res := js.Global().Get("Object").New()
	res.Set("json", text)
	res.Set("bulk", bulk)
	return res
}

// uint8Array copies b into a new Uint8Array.
func uint8Array(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}
