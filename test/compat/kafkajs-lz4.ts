/**
 * kafkajs ships no lz4 codec; users plug one in. Importing this module plugs in lz4-napi's
 * frame codec (the LZ4 frame format Kafka uses), as a kafkajs user would.
 */
import kafkajs from 'kafkajs'
import { compressFrameSync, decompressFrameSync } from 'lz4-napi'

const { CompressionTypes, CompressionCodecs } = kafkajs

CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async (encoder: { buffer: Buffer }) => compressFrameSync(encoder.buffer),
  decompress: async (buffer: Buffer) => decompressFrameSync(buffer),
})
