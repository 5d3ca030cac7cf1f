/**
 * The subset of the ONNX protobuf schema (onnx.proto, real field numbers) that the importer reads, embedded as
 * a protobufjs JSON descriptor so that the bundled engine needs no .proto file at run time.
 */
import * as protobuf from 'protobufjs/light';

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
const packed = (type: string, id: number) => ({ rule: 'repeated', type, id, options: { packed: true } });

/** The protobufjs JSON descriptor of the ONNX messages we need (unknown fields are skipped by the decoder). */
const ONNX_DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            refAttrName: { type: 'string', id: 21 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: packed('float', 7),
            ints: packed('int64', 8),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
            graphs: repeated('GraphProto', 11),
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: repeated('AttributeProto', 5),
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: repeated('OperatorSetIdProto', 8),
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: repeated('StringStringEntryProto', 14),
          },
        },
        StringStringEntryProto: {
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: { type: 'string', id: 2 },
            initializer: repeated('TensorProto', 5),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            valueInfo: repeated('ValueInfoProto', 13),
          },
        },
        TensorProto: {
          fields: {
            dims: packed('int64', 1),
            dataType: { type: 'int32', id: 2 },
            floatData: packed('float', 4),
            int32Data: packed('int32', 5),
            stringData: repeated('bytes', 6),
            int64Data: packed('int64', 7),
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            externalData: repeated('StringStringEntryProto', 13),
            dataLocation: { type: 'int32', id: 14 },
            doubleData: packed('double', 10),
            uint64Data: packed('uint64', 11),
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
            },
          },
        },
        TypeProto: {
          fields: { tensorType: { type: 'Tensor', id: 1 } },
          nested: {
            Tensor: {
              fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
            },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
      },
    },
  },
};

/** An int64 as protobufjs decodes it: a number, or a Long when long.js is available. */
export type Int64 = number | { toNumber(): number };

/** A TensorProto as decoded. */
export interface OnnxTensorProto {
  dims: Int64[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: Int64[];
  doubleData: number[];
  uint64Data: Int64[];
  name: string;
  rawData: Uint8Array;
  externalData: Array<{ key: string; value: string }>;
  dataLocation: number;
}

/** An AttributeProto as decoded. */
export interface OnnxAttributeProto {
  name: string;
  type: number;
  f: number;
  i: Int64;
  s: Uint8Array;
  t?: OnnxTensorProto | null;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  refAttrName: string;
}

/** A NodeProto as decoded. */
export interface OnnxNodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: OnnxAttributeProto[];
}

/** A ValueInfoProto as decoded. */
export interface OnnxValueInfo {
  name: string;
  type?: {
    tensorType?: {
      elemType: number;
      shape?: { dim: Array<{ dimValue?: Int64 | null; dimParam?: string | null; value?: string }> } | null;
    } | null;
  } | null;
}

/** A GraphProto as decoded. */
export interface OnnxGraphProto {
  node: OnnxNodeProto[];
  name: string;
  initializer: OnnxTensorProto[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

/** A ModelProto as decoded. */
export interface OnnxModelProto {
  irVersion: Int64;
  opsetImport: Array<{ domain: string; version: Int64 }>;
  producerName: string;
  producerVersion: string;
  graph?: OnnxGraphProto | null;
  metadataProps: Array<{ key: string; value: string }>;
}

let root: protobuf.Root | undefined;

/** The protobufjs root holding the ONNX types (built once). Tests use it to encode models too. */
export function onnxRoot(): protobuf.Root {
  root ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR);
  return root;
}

/** Decodes a serialized ModelProto; throws protobufjs's error on malformed input. */
export function decodeModelProto(bytes: Uint8Array): OnnxModelProto {
  return onnxRoot().lookupType('onnx.ModelProto').decode(bytes) as unknown as OnnxModelProto;
}

/** Converts an int64 field value to a JS number (values beyond 2^53 lose precision, as with INT64_MAX ends). */
export function int64(v: Int64 | null | undefined): number {
  if (v == null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
