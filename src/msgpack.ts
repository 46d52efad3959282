/**
 * The one place ringlog loads msgpackr (control messages, metadata snapshots, offsets store).
 *
 * `msgpackr/pack` resolves to msgpackr's pure-JS build. The package root (`'msgpackr'`) would
 * also load the optional native string extractor (msgpackr-extract), which segfaults when it
 * decodes inside a partition worker thread (seen on a clean `npm ci`). Our messages are small
 * and rare, so the native extractor buys nothing here.
 */
export { Packr, pack, unpack } from 'msgpackr/pack'
