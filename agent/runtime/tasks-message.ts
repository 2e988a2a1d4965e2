/**
 * The protobuf body of a containerd Tasks request (tasks-grpc.ts): scalar fields written with
 * protobufjs's Writer, field numbers from containerd's api/services/tasks/v1.
 */
import protobuf from 'protobufjs/minimal.js';

/** One protobuf field: number and value (string, bool or uint32); empty values are left out as proto3 does. */
export type Field = [number, string | boolean | number];

export function encodeMessage(fields: readonly Field[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [no, value] of fields) {
    if (typeof value === 'string') {
      if (value !== '') w.uint32((no << 3) | 2).string(value);
    } else if (typeof value === 'boolean') {
      if (value) w.uint32(no << 3).bool(true);
    } else if (value !== 0) w.uint32(no << 3).uint32(value);
  }
  return w.finish();
}

