/**
 * kafkajs ships no snappy codec either; users plug one in (kafkajs-snappy does this with the
 * `snappy` package). Importing this module plugs in ringlog's own snappy codec, which writes
 * Kafka's xerial framing and reads both it and raw snappy.
 */
import kafkajs from 'kafkajs'
import { Compression, compress, decompress } from '../../src/protocol/compression.js'

const { CompressionTypes, CompressionCodecs } = kafkajs

CompressionCodecs[CompressionTypes.Snappy] = () => ({
  compress: async (encoder: { buffer: Buffer }) => compress(Compression.snappy, encoder.buffer),
  decompress: async (buffer: Buffer) => decompress(Compression.snappy, buffer),
})
