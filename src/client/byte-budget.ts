/**
 * Bounded in-flight bytes for one producer: a send that would pass the bound waits (in
 * arrival order) until acknowledged sends give bytes back, so a producer that outruns the
 * disk slows to its pace instead of buffering without limit. A single send larger than the
 * whole bound still goes through, alone.
 */
import { LogClosedError } from '../errors.js'

export class ByteBudget {
  private used = 0
  private readonly waiters: { bytes: number; resolve(): void; reject(error: Error): void }[] = []

  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.used
  }

  /** Resolves at once (undefined) when the bytes fit, else returns a promise that waits for room. */
  acquire(bytes: number): Promise<void> | undefined {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.used += bytes
      return undefined
    }
    return new Promise<void>((resolve, reject) => this.waiters.push({ bytes, resolve, reject }))
  }

  release(bytes: number): void {
    this.used -= bytes
    while (this.waiters.length > 0 && this.fits(this.waiters[0].bytes)) {
      const next = this.waiters.shift()!
      this.used += next.bytes
      next.resolve()
    }
  }

  /** Fails every waiting send (the producer or log was closed). */
  abort(message: string): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(new LogClosedError(message))
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit
  }
}
