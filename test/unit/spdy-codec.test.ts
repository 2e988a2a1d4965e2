/**
 * The SPDY/3.1 codec behind `kubectl port-forward`: every frame type survives encode → parse in
 * any byte split, header blocks round-trip through ONE zlib context per direction (a later block
 * cannot be read without the earlier ones), flow-control frames are bounded as the spec says, and
 * malformed input of every kind is a SpdyProtocolError, never a crash or an unbounded buffer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync, constants } from 'node:zlib';
import {
  encodeData, encodeGoAway, encodePing, encodeRstStream, encodeSettings, encodeSynReply, encodeSynStream, encodeWindowUpdate,
  MAX_CONTROL_PAYLOAD, MAX_WINDOW, SpdyFrameParser, SpdyProtocolError, type SpdyFrame,
} from '../../api/spdy/spdy-frames.js';
import { encodeHeaderBlock, HeaderCompressor, HeaderDecompressor, MAX_HEADER_BLOCK, parseHeaderBlock } from '../../api/spdy/spdy-headers.js';
import { SPDY3_DICTIONARY } from '../../api/spdy/spdy-dictionary.js';

function parseAll(bytes: Buffer, step = 1): SpdyFrame[] {
  const p = new SpdyFrameParser();
  const out: SpdyFrame[] = [];
  for (let i = 0; i < bytes.length; i += step) {
    p.push(bytes.subarray(i, i + step));
    for (let f = p.next(); f; f = p.next()) out.push(f);
  }
  assert.is(p.pending, 0, 'no bytes left over');
  return out;
}

function parseError(bytes: Buffer): SpdyProtocolError {
  const p = new SpdyFrameParser();
  p.push(bytes);
  try {
    while (p.next());
  } catch (err) {
    assert.instance(err, SpdyProtocolError);
    return err as SpdyProtocolError;
  }
  throw new Error('no error');
}

test('the SPDY/3 dictionary has its 1,423 bytes, words length-prefixed, the tail plain', () => {
  assert.is(SPDY3_DICTIONARY.length, 1423);
  assert.equal([...SPDY3_DICTIONARY.subarray(0, 11)], [0, 0, 0, 7, ...Buffer.from('options')]);
  assert.is(SPDY3_DICTIONARY.subarray(-6).toString(), 'enq=0.');
  assert.ok(SPDY3_DICTIONARY.includes(Buffer.from('\0\0\0\x06origin100101201')));
});

test('every frame type round-trips, fed one byte at a time and all at once', () => {
  const block = Buffer.from('compressed-headers');
  const bytes = Buffer.concat([
    encodeSynStream({ streamId: 1, priority: 7, fin: true, headerBlock: block }),
    encodeSynReply(2, block, true),
    encodeData(1, Buffer.from('hello')),
    encodeData(3, Buffer.alloc(0), true),
    encodeRstStream(5, 5),
    encodePing(0xfffffffe),
    encodeGoAway(7, 2),
    encodeWindowUpdate(9, MAX_WINDOW),
    encodeSettings([{ id: 7, value: 65536, flags: 1 }, { id: 4, value: 100 }]),
  ]);
  const expected: SpdyFrame[] = [
    { type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 7, fin: true, unidirectional: false, headerBlock: block },
    { type: 'syn_reply', streamId: 2, fin: true, headerBlock: block },
    { type: 'data', streamId: 1, fin: false, data: Buffer.from('hello') },
    { type: 'data', streamId: 3, fin: true, data: Buffer.alloc(0) },
    { type: 'rst_stream', streamId: 5, status: 5 },
    { type: 'ping', id: 0xfffffffe },
    { type: 'goaway', lastGoodStreamId: 7, status: 2 },
    { type: 'window_update', streamId: 9, delta: MAX_WINDOW },
    { type: 'settings', clearPrevious: false, entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }] },
  ];
  assert.equal(parseAll(bytes, 1), expected);
  assert.equal(parseAll(bytes, bytes.length), expected);
  assert.equal(parseAll(bytes, 7), expected);
});

test('a control frame kubectl sends starts 80 03 00 01; an unknown control type is returned, not refused', () => {
  const syn = encodeSynStream({ streamId: 1, headerBlock: Buffer.alloc(0) });
  assert.equal([...syn.subarray(0, 4)], [0x80, 0x03, 0x00, 0x01]);
  const unknown = Buffer.from([0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 2, 1, 2]);
  assert.equal(parseAll(unknown), [{ type: 'unknown', frameType: 10 }]);
});

test('a large DATA frame arrives whole; its 8-byte header alone yields nothing yet', () => {
  const payload = Buffer.alloc(3 * 1024 * 1024, 0xab);
  const frame = encodeData(11, payload);
  const p = new SpdyFrameParser();
  p.push(frame.subarray(0, 8));
  assert.is(p.next(), undefined);
  p.push(frame.subarray(8, 1000));
  assert.is(p.next(), undefined);
  p.push(frame.subarray(1000));
  const f = p.next();
  assert.ok(f?.type === 'data' && f.data.equals(payload));
});

test('flow control: WINDOW_UPDATE deltas must be 1..2^31-1 both ways; the reserved bit is ignored on read', () => {
  assert.throws(() => encodeWindowUpdate(1, 0), /invalid window delta 0/);
  assert.throws(() => encodeWindowUpdate(1, MAX_WINDOW + 1), /invalid window delta/);
  const zero = encodeWindowUpdate(1, 1);
  zero.writeUInt32BE(0, 12);
  const err = parseError(zero);
  assert.match(err.message, /delta of 0/);
  assert.is(err.status, 7, 'FLOW_CONTROL_ERROR');
  const reserved = encodeWindowUpdate(1, 5);
  reserved.writeUInt32BE(0x80000005, 12);
  assert.equal(parseAll(reserved), [{ type: 'window_update', streamId: 1, delta: 5 }]);
  // Connection-level update (stream 0) is legal in SPDY/3.1.
  assert.equal(parseAll(encodeWindowUpdate(0, 1024)), [{ type: 'window_update', streamId: 0, delta: 1024 }]);
});

test('malformed frames are protocol errors with a reason, and the parser stays failed', () => {
  const badVersion = encodePing(1);
  badVersion.writeUInt16BE(0x8002, 0);
  assert.match(parseError(badVersion).message, /unsupported SPDY version 2/);
  const shortRst = Buffer.from([0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1]);
  assert.match(parseError(shortRst).message, /RST_STREAM frame has a payload of 4 bytes, expected 8/);
  const longPing = Buffer.from([0x80, 3, 0, 6, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.match(parseError(longPing).message, /PING/);
  assert.match(parseError(Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 9])).message, /data frame on stream 0/);
  const synZero = encodeSynStream({ streamId: 1, headerBlock: Buffer.alloc(0) });
  synZero.writeUInt32BE(0, 8);
  assert.match(parseError(synZero).message, /SYN_STREAM frame on stream 0/);
  const shortSyn = Buffer.from([0x80, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1]);
  assert.match(parseError(shortSyn).message, /at least 10/);
  const lyingSettings = encodeSettings([{ id: 1, value: 1 }]);
  lyingSettings.writeUInt32BE(1000, 8);
  assert.match(parseError(lyingSettings).message, /announces 1000 entries/);
  // A huge control frame is refused from its header, before its payload is buffered.
  const huge = Buffer.from([0x80, 3, 0, 1, 0, 0xff, 0xff, 0xff]);
  assert.match(parseError(huge).message, new RegExp(`exceeds ${MAX_CONTROL_PAYLOAD}`));
  const p = new SpdyFrameParser();
  p.push(badVersion);
  assert.throws(() => p.next());
  assert.throws(() => p.next(), /already failed/);
});

test('encoders refuse stream ids and lengths the wire cannot carry', () => {
  assert.throws(() => encodeData(0, Buffer.alloc(1)), /invalid stream id 0/);
  assert.throws(() => encodeRstStream(0x80000000, 1), /invalid stream id/);
});

test('header blocks: lower-cased names, NUL-joined values, exact lengths', () => {
  const block = encodeHeaderBlock([['streamType', 'data'], ['port', '80'], ['multi', ['a', 'b']]]);
  const h = parseHeaderBlock(block);
  assert.equal([...h.entries()], [['streamtype', ['data']], ['port', ['80']], ['multi', ['a', 'b']]]);
  const bad = (b: Buffer, re: RegExp): void => {
    assert.throws(() => parseHeaderBlock(b), (err: Error) => err instanceof SpdyProtocolError && re.test(err.message));
  };
  bad(Buffer.from([0, 0, 0]), /truncated/);
  bad(Buffer.from([0xff, 0xff, 0xff, 0xff]), /cannot fit/);
  bad(Buffer.concat([block, Buffer.from([1])]), /bytes after the last pair/);
  const upper = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 1]), Buffer.from('X'), Buffer.from([0, 0, 0, 0])]);
  bad(upper, /not lower-case/);
  const empty = Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  bad(empty, /empty header name/);
  const pair = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('a'), Buffer.from([0, 0, 0, 0])]);
  bad(Buffer.concat([Buffer.from([0, 0, 0, 2]), pair, pair]), /appears twice/);
  const runsPast = Buffer.from([0, 0, 0, 1, 0, 0, 0, 200, 0, 0, 0, 0]);
  bad(runsPast, /runs past the end/);
});

test('header compression is one zlib context per direction: 50 blocks in order, a later block alone is unreadable', async () => {
  const out = new HeaderCompressor();
  const blocks: Buffer[] = [];
  for (let i = 0; i < 50; i++) blocks.push(await out.compress([['streamtype', i % 2 ? 'data' : 'error'], ['port', '80'], ['requestid', String(i)]]));
  out.close();
  // The first block carries the zlib header with the SPDY dictionary's id; later ones are flush-delimited.
  assert.is(blocks[0]![0], 0x78);
  assert.ok((blocks[0]![1]! & 0x20) !== 0, 'FDICT set');
  assert.ok(blocks[40]!.length < blocks[0]!.length, 'later blocks reuse the history');
  const inn = new HeaderDecompressor();
  const seen = await Promise.all(blocks.map((b) => inn.decompress(b)));
  inn.close();
  assert.equal(seen.map((h) => h.get('requestid')?.[0]), blocks.map((_b, i) => String(i)));
  const fresh = new HeaderDecompressor();
  await fresh.decompress(blocks[7]!).then(() => assert.unreachable('a mid-stream block decoded alone'), (err: unknown) => assert.instance(err, SpdyProtocolError));
  fresh.close();
});

test('a header block from a zlib stream without the dictionary, garbage, or a bomb is refused cleanly', async () => {
  const garbage = new HeaderDecompressor();
  await garbage.decompress(Buffer.from('not zlib at all')).then(() => assert.unreachable(), (err: unknown) => {
    assert.instance(err, SpdyProtocolError);
    assert.match((err as Error).message, /header compression failed/);
  });
  // The context is gone after an error: the next block fails too instead of decoding nonsense.
  await garbage.decompress(Buffer.from([1, 2, 3])).then(() => assert.unreachable(), (err: unknown) => assert.instance(err, SpdyProtocolError));
  garbage.close();
  const bomb = deflateSync(Buffer.alloc(MAX_HEADER_BLOCK * 4), { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
  const d = new HeaderDecompressor();
  await d.decompress(bomb).then(() => assert.unreachable(), (err: unknown) => assert.match((err as Error).message, /decompresses to more than/));
  d.close();
});

test.run();
