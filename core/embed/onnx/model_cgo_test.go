//go:build cgo

package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file hand-encodes tiny ONNX models (onnx.proto3 ModelProto) so the
// tests need no model download and no onnx Python package. Field numbers
// are those of onnx/onnx.proto.

// ONNX TensorProto.DataType values.
const (
	onnxFloat = 1
	onnxInt32 = 6
	onnxInt64 = 7
)

// tinyModel describes a test model: a Gather of input_ids rows out of an
// embedding table [vocab, dim] gives last_hidden_state [batch, seq, dim].
type tinyModel struct {
	weights  []float32 // [vocab, dim], row-major
	vocab    int
	dim      int
	extra    bool   // also declare attention_mask and token_type_ids inputs (unused by the graph)
	pooled   bool   // add ReduceMean over the sequence: output [batch, dim]
	outName  string // "" = last_hidden_state
	idsType  int    // element type of input_ids; 0 = int64
	badInput string // declare an extra input of this name
}

func (m tinyModel) encode() []byte {
	out := m.outName
	if out == "" {
		out = "last_hidden_state"
	}
	idsType := m.idsType
	if idsType == 0 {
		idsType = onnxInt64
	}
	var graph []byte
	gatherOut := out
	if m.pooled {
		gatherOut = "hidden"
	}
	// Gather takes int32 or int64 indices alike.
	graph = appendMessage(graph, 1, node("Gather", []string{"embeddings", "input_ids"}, []string{gatherOut}, nil))
	if m.pooled {
		attrs := appendMessage(nil, 5, attrInts("axes", []int64{1}))
		attrs = appendMessage(attrs, 5, attrInt("keepdims", 0))
		graph = appendMessage(graph, 1, node("ReduceMean", []string{"hidden"}, []string{out}, attrs))
	}
	graph = protowire.AppendTag(graph, 2, protowire.BytesType)
	graph = protowire.AppendString(graph, "tiny")
	graph = appendMessage(graph, 5, floatTensor("embeddings", m.weights, int64(m.vocab), int64(m.dim)))
	seq := []dimension{{param: "batch"}, {param: "sequence"}}
	graph = appendMessage(graph, 11, valueInfo("input_ids", idsType, seq))
	if m.extra {
		graph = appendMessage(graph, 11, valueInfo("attention_mask", onnxInt64, seq))
		graph = appendMessage(graph, 11, valueInfo("token_type_ids", onnxInt64, seq))
	}
	if m.badInput != "" {
		graph = appendMessage(graph, 11, valueInfo(m.badInput, onnxInt64, seq))
	}
	outDims := []dimension{{param: "batch"}, {param: "sequence"}, {value: int64(m.dim)}}
	if m.pooled {
		outDims = []dimension{{param: "batch"}, {value: int64(m.dim)}}
	}
	graph = appendMessage(graph, 12, valueInfo(out, onnxFloat, outDims))

	var model []byte
	model = protowire.AppendTag(model, 1, protowire.VarintType) // ir_version
	model = protowire.AppendVarint(model, 8)
	model = protowire.AppendTag(model, 2, protowire.BytesType) // producer_name
	model = protowire.AppendString(model, "genos-test")
	model = appendMessage(model, 7, graph)
	opset := protowire.AppendTag(nil, 1, protowire.BytesType) // domain ""
	opset = protowire.AppendString(opset, "")
	opset = protowire.AppendTag(opset, 2, protowire.VarintType) // version
	opset = protowire.AppendVarint(opset, 13)
	model = appendMessage(model, 8, opset)
	return model
}

func appendMessage(b []byte, field protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendStrings(b []byte, field protowire.Number, ss []string) []byte {
	for _, s := range ss {
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	return b
}

// node is a NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
func node(op string, in, out []string, attrs []byte) []byte {
	b := appendStrings(nil, 1, in)
	b = appendStrings(b, 2, out)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, op+"_0")
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, op)
	return append(b, attrs...)
}

// AttributeProto: name 1, i 3, ints 8, type 20 (INT = 2, INTS = 7).
func attrInt(name string, v int64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(v))
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, 2)
}

func attrInts(name string, vs []int64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	for _, v := range vs {
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, 7)
}

// floatTensor is a TensorProto: dims 1, data_type 2, name 8, raw_data 9
// (little-endian).
func floatTensor(name string, data []float32, dims ...int64) []byte {
	var b []byte
	for _, d := range dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, onnxFloat)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendString(b, name)
	raw := make([]byte, 4*len(data))
	for i, x := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	return protowire.AppendBytes(b, raw)
}

type dimension struct {
	value int64
	param string
}

// valueInfo is a ValueInfoProto (name 1, type 2) of a tensor: TypeProto
// tensor_type 1 { elem_type 1, shape 2 { dim 1 { dim_value 1 | dim_param 2 } } }.
func valueInfo(name string, elem int, dims []dimension) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		if d.param != "" {
			dim = protowire.AppendTag(dim, 2, protowire.BytesType)
			dim = protowire.AppendString(dim, d.param)
		} else {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d.value))
		}
		shape = appendMessage(shape, 1, dim)
	}
	tensor := protowire.AppendTag(nil, 1, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, uint64(elem))
	tensor = appendMessage(tensor, 2, shape)
	typ := appendMessage(nil, 1, tensor)
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	return appendMessage(b, 2, typ)
}
