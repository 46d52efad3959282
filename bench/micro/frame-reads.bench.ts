/**
 * Reading large response frames off a loopback socket: FrameDecoder on 'data' chunks (the
 * default, which joins a frame's 64 KiB chunks once it is complete) against DirectFrameReader
 * (net `onread` into the frame's own buffer, what replica fetchers use). The sender is a child
 * process writing `--frames` frames of `--frame-kib` each per connection; rounds alternate the
 * two readers and the medians of MiB/s and their ratio are printed.
 *
 *   npx tsx bench/micro/frame-reads.bench.ts [--runs 7] [--frames 256] [--frame-kib 1024]
 */
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { parseArgs } from 'node:util'
import { DirectFrameReader } from '../../src/kafka-client/direct-frame-reader.js'
import { FrameDecoder } from '../../src/protocol/frame.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, frames: { type: 'string', default: '256' }, 'frame-kib': { type: 'string', default: '1024' } } })
const ROUNDS = Number(values.runs)
const FRAMES = Number(values.frames)
const FRAME_BYTES = Number(values['frame-kib']) * 1024

const SENDER = `
const net = require('node:net')
const frame = Buffer.alloc(${FRAME_BYTES} + 4, 7); frame.writeInt32BE(${FRAME_BYTES}, 0)
const server = net.createServer((socket) => {
  let left = ${FRAMES}
  const more = () => { while (left > 0) { left--; if (!socket.write(frame)) return socket.once('drain', more) } socket.end() }
  more()
})
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'))
`

async function startSender(): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, ['-e', SENDER], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))))
  return { port, stop: () => child.kill('SIGKILL') }
}

function readAll(port: number, direct: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let frames = 0
    let bytes = 0
    const started = performance.now()
    const onFrame = (frame: Buffer): void => {
      frames++
      bytes += frame.length
      if (frames === FRAMES) resolve((bytes / 2 ** 20) / ((performance.now() - started) / 1000))
    }
    if (direct) {
      const reader = new DirectFrameReader(FRAME_BYTES + 1024)
      reader.attach(onFrame, reject)
      connect({ port, host: '127.0.0.1', onread: { buffer: () => reader.nextBuffer(), callback: (n, buf) => { reader.onRead(n, buf as Buffer); return true } } }).on('error', reject)
    } else {
      const decoder = new FrameDecoder(FRAME_BYTES + 1024)
      connect({ port, host: '127.0.0.1' }).on('data', (chunk: Buffer) => { for (const f of decoder.push(chunk)) onFrame(f) }).on('error', reject)
    }
  })
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const sender = await startSender()
const chunks: number[] = []
const direct: number[] = []
try {
  for (let round = 0; round < ROUNDS; round++) {
    chunks.push(await readAll(sender.port, false))
    direct.push(await readAll(sender.port, true))
    console.log(`round ${round + 1}: FrameDecoder ${chunks[round].toFixed(0)} MiB/s, DirectFrameReader ${direct[round].toFixed(0)} MiB/s`)
  }
} finally {
  sender.stop()
}
console.log(`${FRAMES} frames of ${FRAME_BYTES / 1024} KiB, medians over ${ROUNDS} rounds: FrameDecoder ${median(chunks).toFixed(0)} MiB/s, DirectFrameReader ${median(direct).toFixed(0)} MiB/s, ratio ${(median(direct) / median(chunks)).toFixed(2)}`)
console.log(JSON.stringify({ bench: 'frame-reads', frameKiB: FRAME_BYTES / 1024, frames: FRAMES, frameDecoderMiBps: median(chunks), directMiBps: median(direct) }))
