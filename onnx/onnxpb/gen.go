// Package onnxpb holds the Go bindings of ONNX's protobuf schema, generated
// from onnx.proto (ONNX 1.12's onnx-ml.proto, with the element types of IR
// versions 9 and 10 added to TensorProto.DataType).
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto onnx-data.proto
