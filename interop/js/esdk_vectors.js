#!/usr/bin/env node
// Cross-implementation test-vector tool driven by the AWS Encryption SDK for JavaScript
// (@aws-crypto/client-node, pinned in package-lock.json).
//
// Written for this project: proves interoperability between esdk-rs and the JavaScript ESDK by
// exchanging manifests in the formats of the aws-crypto-tools-test-vector-framework
// (keys manifest v1-v3, awses-decrypt v1-v3).
//
//   node esdk_vectors.js decrypt --manifest PATH [--manifest PATH ...] [--seed N] [-v]
//       Decrypts every vector of the awses-decrypt manifests on two paths: the one-shot
//       `decrypt` and `decryptStream` fed in random-sized chunks (`decryptUnsignedMessageStream`
//       for `decryption-method: streaming-unsigned-only`). Must-decrypt vectors must give the
//       expected plaintext on both; must-fail vectors must fail on both.
//   node esdk_vectors.js encrypt --keys KEYS.json --out DIR [--seed N] [--count N]
//       Encrypts a seeded random set of scenarios and writes DIR/manifest.json (awses-decrypt
//       v2), DIR/keys.json, DIR/ciphertexts/*, DIR/plaintexts/* for esdk-test-vectors decrypt.
//   node esdk_vectors.js stream-encrypt --key-hex HEX [--frame N] [--suite 0x0578]   (stdin -> stdout)
//   node esdk_vectors.js stream-decrypt --key-hex HEX                               (stdin -> stdout)
//       encryptStream / decryptStream with a raw AES-256 keyring (namespace "esdk-interop",
//       name "stream-key"), for the >= 64 MiB streaming tests against the Rust adapters.
//
// The last line of decrypt and encrypt is exactly "N passed, M failed" (", K skipped" when K > 0);
// the exit status is 1 when anything failed or nothing passed, 2 on usage errors.
//
// Raw RSA with PKCS#1 v1.5 padding needs `node --security-revert=CVE-2023-46809` (Node refuses
// PKCS#1 v1.5 private decryption by default since the Marvin fix); see README.md.
'use strict'

const fs = require('fs')
const path = require('path')
const crypto = require('crypto')
const { Readable } = require('stream')
const { pipeline } = require('stream/promises')
const esdk = require('@aws-crypto/client-node')

const {
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  RawRsaKeyringNode,
  MultiKeyringNode,
  CommitmentPolicy,
  buildClient,
} = esdk

const CLIENT_NAME = 'aws/aws-encryption-sdk-javascript'
const CLIENT_VERSION = require('@aws-crypto/client-node/package.json').version

// All 11 suites, committing ones last.
const SUITES = [0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578]
const COMMITTING = new Set([0x0478, 0x0578])
const SIGNING = new Set([0x0214, 0x0346, 0x0378, 0x0578])
const AES_WRAPPING = {
  16: RawAesWrappingSuiteIdentifier.AES128_GCM_IV12_TAG16_NO_PADDING,
  24: RawAesWrappingSuiteIdentifier.AES192_GCM_IV12_TAG16_NO_PADDING,
  32: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
}
const MIB = 1 << 20

class Unsupported extends Error {}
class ManifestError extends Error {}

// ------------------------------------------------------------------------------------------
// Small helpers

function describe(e) {
  let text = String((e && e.message) || e).replace(/\s+/g, ' ')
  if (text.length > 300) text = text.slice(0, 300) + '...'
  return `${(e && e.constructor && e.constructor.name) || 'Error'}: ${text}`
}

function resolveUri(uri, base) {
  if (typeof uri !== 'string') throw new ManifestError(`expected a file:// URI, got ${JSON.stringify(uri)}`)
  let rest = uri
  if (uri.startsWith('file://')) rest = uri.slice('file://'.length)
  else if (uri.includes('://')) throw new ManifestError(`unsupported URI scheme in ${uri}`)
  return path.isAbsolute(rest) ? rest : path.join(base, rest)
}

function readJson(p) {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'))
  } catch (e) {
    throw new ManifestError(`cannot read ${p}: ${describe(e)}`)
  }
}

// Deterministic PRNG (mulberry32 over a 32-bit seed mix): the same seed gives the same scenarios.
function rng(seed) {
  let a = Number(BigInt.asUintN(32, BigInt(seed) * 2654435761n ^ 0x9e3779b9n))
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    bytes: (n) => {
      const b = Buffer.alloc(n)
      for (let i = 0; i < n; i += 4) {
        const v = Math.floor(next() * 4294967296)
        for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (v >>> (8 * j)) & 0xff
      }
      return b
    },
  }
}

function sameBytes(a, b) {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return n
}

class Tally {
  constructor() {
    this.passed = 0
    this.failed = 0
    this.skipped = 0
  }
  line() {
    return `${this.passed} passed, ${this.failed} failed` + (this.skipped ? `, ${this.skipped} skipped` : '')
  }
}

// ------------------------------------------------------------------------------------------
// Keys manifest and keyrings

function loadKeys(p) {
  const doc = readJson(p)
  if (!doc.manifest || doc.manifest.type !== 'keys') throw new ManifestError(`${p}: not a keys manifest`)
  const out = {}
  for (const [name, e] of Object.entries(doc.keys || {})) {
    let material = e.material
    if (Array.isArray(material)) material = material.join(e['line-separator'] || '')
    out[name] = {
      name,
      type: e.type,
      keyId: e['key-id'] !== undefined ? String(e['key-id']) : name,
      encrypt: e.encrypt !== false,
      decrypt: e.decrypt !== false,
      encoding: String(e.encoding || '').toLowerCase(),
      material,
    }
  }
  return out
}

const KMS_TYPES = new Set(['aws-kms', 'aws-kms-mrk-aware', 'aws-kms-mrk-aware-discovery', 'aws-kms-rsa', 'aws-kms-ecdh'])

// The RSA padding of a raw key description, as Node's crypto constants.
function rsaPadding(desc) {
  const padding = String(desc['padding-algorithm'] || '').toLowerCase()
  if (padding === 'pkcs1') return { padding: crypto.constants.RSA_PKCS1_PADDING, oaepHash: undefined }
  if (padding === 'oaep-mgf1' || padding === 'oaep') {
    const h = String(desc['padding-hash'] || 'sha1').toLowerCase().replace(/[-_]/g, '')
    if (!['sha1', 'sha256', 'sha384', 'sha512'].includes(h)) throw new ManifestError(`unsupported OAEP hash ${h}`)
    return { padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: h }
  }
  throw new ManifestError(`unsupported RSA padding ${JSON.stringify(desc['padding-algorithm'])}`)
}

class KeyringFactory {
  // utf8Sorting: see README.md "divergences": RawAesKeyringNode sorts the encryption context of
  // its wrapping AAD with String.localeCompare unless told to sort by UTF-8 bytes.
  constructor(keys, { utf8Sorting = true } = {}) {
    this.keys = keys
    this.utf8Sorting = utf8Sorting
  }

  entry(name) {
    const e = this.keys[name]
    if (!e) throw new ManifestError(`key ${JSON.stringify(name)} is not in the keys manifest`)
    return e
  }

  raw(desc, forDecrypt) {
    const e = this.entry(desc.key)
    if (forDecrypt && !e.decrypt) return []
    if (!forDecrypt && !e.encrypt) throw new ManifestError(`key ${e.name} is marked encrypt: false`)
    const keyNamespace = desc['provider-id']
    if (typeof keyNamespace !== 'string' || !keyNamespace) throw new ManifestError('raw key without provider-id')
    const keyName = desc['key-id'] !== undefined ? String(desc['key-id']) : e.keyId
    const alg = String(desc['encryption-algorithm'] || '').toLowerCase()
    if (alg === 'aes') {
      if (e.type !== 'symmetric') throw new ManifestError(`key ${e.name} is not symmetric`)
      const key = Buffer.from(e.material, 'base64')
      const wrappingSuite = AES_WRAPPING[key.length]
      if (!wrappingSuite) throw new ManifestError(`AES key ${e.name} of ${key.length} bytes`)
      return [
        new RawAesKeyringNode({
          keyName,
          keyNamespace,
          unencryptedMasterKey: new Uint8Array(key),
          wrappingSuite,
          utf8Sorting: this.utf8Sorting,
        }),
      ]
    }
    if (alg === 'rsa') {
      const { padding, oaepHash } = rsaPadding(desc)
      let rsaKey
      if (e.type === 'private') {
        const privateKey = crypto.createPrivateKey(e.material)
        rsaKey = { privateKey, publicKey: crypto.createPublicKey(privateKey) }
      } else if (e.type === 'public') {
        rsaKey = { publicKey: crypto.createPublicKey(e.material) }
      } else {
        throw new ManifestError(`key ${e.name} is not an RSA key`)
      }
      return [new RawRsaKeyringNode({ keyName, keyNamespace, rsaKey, padding, oaepHash })]
    }
    throw new ManifestError(`unsupported raw encryption-algorithm ${JSON.stringify(desc['encryption-algorithm'])}`)
  }

  flatten(desc, forDecrypt) {
    if (!desc || typeof desc !== 'object') throw new ManifestError('key description must be an object')
    const t = desc.type
    if (t === 'raw') return this.raw(desc, forDecrypt)
    if (t === 'multi-keyring') {
      const out = []
      if (desc.generator) out.push(...this.flatten(desc.generator, forDecrypt))
      for (const c of desc.childKeyrings || []) out.push(...this.flatten(c, forDecrypt))
      return out
    }
    if (KMS_TYPES.has(t)) throw new Unsupported(`needs AWS KMS (${t} key description)`)
    throw new Unsupported(`${t} key description is not used by this tool`)
  }

  // Encrypt: the first key generates the data key, every other key wraps it.
  // Decrypt: every decrypt-capable key is a child.
  keyring(descs, forDecrypt) {
    const krs = []
    for (const d of descs) krs.push(...this.flatten(d, forDecrypt))
    if (!krs.length) throw new Unsupported('no usable key')
    if (krs.length === 1) return { keyring: krs[0], count: 1 }
    const keyring = forDecrypt
      ? new MultiKeyringNode({ children: krs })
      : new MultiKeyringNode({ generator: krs[0], children: krs.slice(1) })
    return { keyring, count: krs.length }
  }
}

// ------------------------------------------------------------------------------------------
// Decrypt

function loadDecryptManifest(p) {
  const doc = readJson(p)
  const m = doc.manifest || {}
  if (m.type !== 'awses-decrypt') throw new ManifestError(`${p}: not an awses-decrypt manifest`)
  if (![1, 2, 3].includes(m.version)) throw new ManifestError(`${p}: awses-decrypt v${m.version} (1-3 supported)`)
  const base = path.dirname(p)
  const keys = loadKeys(resolveUri(doc.keys, base))
  const cases = []
  for (const [name, t] of Object.entries(doc.tests || {})) {
    const c = { name, expect: 'output', keyDescs: t['master-keys'] || [], method: t['decryption-method'] }
    try {
      c.ciphertext = resolveUri(t.ciphertext, base)
      if (m.version === 1) c.plaintext = resolveUri(t.plaintext, base)
      else if (t.result && t.result.output) c.plaintext = resolveUri(t.result.output.plaintext, base)
      else if (t.result && t.result.error) c.expect = 'error'
      else throw new ManifestError('result must hold output or error')
      if (c.method !== undefined && c.method !== 'streaming-unsigned-only') {
        throw new ManifestError(`unknown decryption-method ${c.method}`)
      }
    } catch (e) {
      c.error = `malformed test entry: ${describe(e)}`
    }
    cases.push(c)
  }
  return { doc, keys, cases }
}

// Splits `buf` into chunks of random sizes (1 byte up to 64 KiB, mostly small).
function* randomChunks(buf, r) {
  let off = 0
  while (off < buf.length) {
    const max = r.pick([1, 7, 100, 4096, 65536])
    const n = Math.min(buf.length - off, r.int(1, max))
    yield buf.subarray(off, off + n)
    off += n
  }
}

async function streamThrough(transform, chunks) {
  const out = []
  await pipeline(Readable.from(chunks, { objectMode: false }), transform, async function* (source) {
    for await (const chunk of source) out.push(Buffer.from(chunk))
  })
  return Buffer.concat(out)
}

async function decryptOn(api, client, keyring, ciphertext, r) {
  if (api === 'oneshot') return (await client.decrypt(keyring, ciphertext)).plaintext
  const stream = api === 'stream-unsigned' ? client.decryptUnsignedMessageStream(keyring) : client.decryptStream(keyring)
  return streamThrough(stream, randomChunks(ciphertext, r))
}

async function runDecryptCase(c, factory, client, r) {
  if (c.error) return { status: 'fail', reason: c.error }
  let keyring
  try {
    keyring = factory.keyring(c.keyDescs, true).keyring
  } catch (e) {
    if (e instanceof Unsupported) return { status: 'skip', reason: e.message }
    return { status: 'fail', reason: `bad key description: ${describe(e)}` }
  }
  const ciphertext = fs.readFileSync(c.ciphertext)
  const expected = c.expect === 'output' ? fs.readFileSync(c.plaintext) : null
  const apis = c.method === 'streaming-unsigned-only' ? ['stream-unsigned'] : ['oneshot', 'stream']
  for (const api of apis) {
    let plaintext
    try {
      plaintext = await decryptOn(api, client, keyring, ciphertext, r)
    } catch (e) {
      if (c.expect === 'error') continue
      return { status: 'fail', reason: `${api} decrypt failed: ${describe(e)}` }
    }
    if (c.expect === 'error') {
      return { status: 'fail', reason: `${api} decrypt succeeded (${plaintext.length} bytes) but the manifest expects an error` }
    }
    if (!sameBytes(plaintext, expected)) {
      return {
        status: 'fail',
        reason: `${api} plaintext mismatch: ${plaintext.length} bytes, expected ${expected.length}, first difference at ${firstDifference(plaintext, expected)}`,
      }
    }
  }
  return { status: 'pass' }
}

async function cmdDecrypt(opts) {
  if (!opts.manifest.length) throw new UsageError('decrypt needs --manifest')
  const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
  const r = rng(opts.seed)
  const total = new Tally()
  for (let p of opts.manifest) {
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) p = path.join(p, 'manifest.json')
    const t0 = Date.now()
    let loaded
    try {
      loaded = loadDecryptManifest(p)
    } catch (e) {
      console.log(`FAIL ${p}: cannot load manifest: ${describe(e)}`)
      total.failed++
      continue
    }
    const factory = new KeyringFactory(loaded.keys)
    const tally = new Tally()
    const skips = new Map()
    for (const c of loaded.cases) {
      const res = await runDecryptCase(c, factory, client, r)
      if (res.status === 'pass') {
        tally.passed++
        if (opts.verbose) console.log(`PASS ${c.name}`)
      } else if (res.status === 'skip') {
        tally.skipped++
        if (!skips.has(res.reason)) skips.set(res.reason, [])
        skips.get(res.reason).push(c.name)
      } else {
        tally.failed++
        console.log(`FAIL ${c.name}: ${res.reason}`)
      }
    }
    for (const [reason, names] of skips) {
      console.log(`SKIP ${names.length} test(s): ${reason} [${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}]`)
    }
    const client_ = loaded.doc.client || {}
    console.log(
      `manifest ${p} (awses-decrypt v${loaded.doc.manifest.version}, written by ${client_.name || '?'} ${client_.version || '?'}): ${tally.line()} in ${((Date.now() - t0) / 1000).toFixed(1)}s`
    )
    total.passed += tally.passed
    total.failed += tally.failed
    total.skipped += tally.skipped
  }
  console.log(`javascript esdk ${CLIENT_VERSION} on node ${process.version}`)
  console.log(total.line())
  return total.failed === 0 && total.passed > 0
}

// ------------------------------------------------------------------------------------------
// Encrypt a random set

// Encryption contexts: empty, one pair, a fixed rich one (non-ASCII, control characters, an empty
// value, keys whose UTF-8 order differs from their UTF-16 order and from localeCompare's), random.
function fixedRichContext() {
  return {
    key1: 'val1',
    Key2: 'upper case sorts before lower case in UTF-8, after it in localeCompare',
    'unicode_key_\u043b\u043e\u0432\u0438\u0435': 'unicode_value_\u041f\u0440\u0435\u0434\u0438\u0441\u043b',
    '\u0000\u0001\u0002': 'ctl\t\n\r\u001b\u007f\u0000end',
    '\u00e9t\u00e9 \u6f22\u5b57': '\u0645\u0631\u062d\u0628\u0627',
    '\uff61': 'U+FF61 sorts before U+1F510 in UTF-8 and after it in UTF-16',
    '\u{1F510}': 'astral \u{1F600}\u{10348}',
    'empty-value': '',
  }
}

function randomText(r, minLen, maxLen) {
  const ranges = [
    [[0x20, 0x7e], 50],
    [[0x00, 0x1f], 5],
    [[0x80, 0x7ff], 15],
    [[0x800, 0xd7ff], 15],
    [[0xe000, 0xfffd], 5],
    [[0x10000, 0x10ffff], 10],
  ]
  const n = r.int(minLen, maxLen)
  let s = ''
  for (let i = 0; i < n; i++) {
    let x = r.next() * 100
    let range = ranges[0][0]
    for (const [rg, w] of ranges) {
      if (x < w) {
        range = rg
        break
      }
      x -= w
    }
    s += String.fromCodePoint(r.int(range[0], range[1]))
  }
  return s
}

function makeContext(kind, r) {
  if (kind === 'empty') return {}
  if (kind === 'one') return { purpose: 'esdk-rs interop \u2713' }
  if (kind === 'rich') return fixedRichContext()
  const ec = {}
  for (let i = r.int(2, 12); i > 0; i--) {
    const k = randomText(r, 1, 24)
    if (k.startsWith('aws-crypto-')) continue
    ec[k] = randomText(r, 0, 40)
  }
  return ec
}

// Frame lengths from 1 byte to 1 MiB, boundary and odd values included.
const FRAME_LENGTHS = [1, 2, 3, 15, 16, 17, 100, 127, 128, 511, 1000, 4096, 4097, 65535, 65536, 100000, 524288, MIB]

function plaintextLength(r, frame) {
  // Plaintext lengths at the frame boundaries (0, F-1, F, F+1, 2F, 3F-1, ...), capped at 3 MiB.
  const cands = [0, 1, frame - 1, frame, frame + 1, 2 * frame - 1, 2 * frame, 2 * frame + 1, 3 * frame, r.int(0, 3 * frame + 2)]
  const n = r.pick(cands)
  return Math.max(0, Math.min(n, 3 * MIB))
}

function keyPools(keys) {
  const aes = []
  const rsaPrivate = []
  const rsaPublic = []
  for (const e of Object.values(keys)) {
    if (e.type === 'symmetric' && e.encrypt && e.decrypt && e.encoding === 'base64') {
      if (AES_WRAPPING[Buffer.from(e.material, 'base64').length]) aes.push(e)
    } else if (e.type === 'private' && e.encrypt && e.decrypt && e.material) rsaPrivate.push(e)
    else if (e.type === 'public' && e.encrypt && e.material) rsaPublic.push(e)
  }
  if (!aes.length || !rsaPrivate.length) throw new ManifestError('the keys manifest needs AES and RSA private keys')
  return { aes, rsaPrivate, rsaPublic }
}

const RSA_PADDINGS = [['pkcs1'], ['oaep-mgf1', 'sha1'], ['oaep-mgf1', 'sha256'], ['oaep-mgf1', 'sha384'], ['oaep-mgf1', 'sha512']]

function randomKeyDesc(r, pools, decryptable) {
  const namespace = r.pick(['aws-raw-vectors-persistant', 'esdk-js-interop', 'js namespace \u00fc\u00f1\u00ee'])
  if (r.next() < 0.5) {
    const e = r.pick(pools.aes)
    return { type: 'raw', key: e.name, 'provider-id': namespace, 'encryption-algorithm': 'aes' }
  }
  const e = decryptable || !pools.rsaPublic.length || r.next() < 0.7 ? r.pick(pools.rsaPrivate) : r.pick(pools.rsaPublic)
  const [padding, hash] = r.pick(RSA_PADDINGS)
  const d = { type: 'raw', key: e.name, 'provider-id': namespace, 'encryption-algorithm': 'rsa', 'padding-algorithm': padding }
  if (hash) d['padding-hash'] = hash
  return d
}

function randomScenarios(keys, seed, count) {
  const r = rng(seed)
  const pools = keyPools(keys)
  const out = []
  for (let i = 0; i < count; i++) {
    const suite = SUITES[i % SUITES.length] // every suite equally often
    const frame = i % 5 === 0 ? r.int(1, MIB) : r.pick(FRAME_LENGTHS)
    const length = plaintextLength(r, frame)
    const ecKind = r.pick(['empty', 'one', 'rich', 'random', 'random'])
    const nkeys = r.int(1, 3)
    const descs = []
    // One key is always decrypt-capable; the others may be public-only RSA keys.
    const decryptIdx = r.int(0, nkeys - 1)
    for (let k = 0; k < nkeys; k++) descs.push(randomKeyDesc(r, pools, k === decryptIdx))
    out.push({
      name: `js-${String(i).padStart(4, '0')}-suite-${suite.toString(16).padStart(4, '0')}-frame-${frame}-len-${length}`,
      suite,
      frame,
      plaintext: r.bytes(length),
      ec: makeContext(ecKind, r),
      ecKind,
      descs,
    })
  }
  return out
}

function headerProblems(sc, header, nkeys) {
  const problems = []
  if (header.suiteId !== sc.suite) problems.push(`header suite ${header.suiteId} != ${sc.suite}`)
  if (header.frameLength !== sc.frame) problems.push(`header frame length ${header.frameLength} != ${sc.frame}`)
  if (header.encryptedDataKeys.length !== nkeys) problems.push(`${header.encryptedDataKeys.length} EDKs for ${nkeys} keys`)
  const ec = { ...header.encryptionContext }
  const pub = ec['aws-crypto-public-key']
  delete ec['aws-crypto-public-key']
  if (JSON.stringify(Object.entries(ec).sort()) !== JSON.stringify(Object.entries(sc.ec).sort())) {
    problems.push('header encryption context differs from the requested one')
  }
  if ((pub !== undefined) !== SIGNING.has(sc.suite)) problems.push('aws-crypto-public-key presence does not match the suite')
  return problems
}

async function cmdEncrypt(opts) {
  if (!opts.keys || !opts.out) throw new UsageError('encrypt needs --keys and --out')
  const keys = loadKeys(opts.keys)
  const factory = new KeyringFactory(keys)
  const clients = {
    false: buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT),
    true: buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT),
  }
  fs.rmSync(opts.out, { recursive: true, force: true })
  fs.mkdirSync(path.join(opts.out, 'ciphertexts'), { recursive: true })
  fs.mkdirSync(path.join(opts.out, 'plaintexts'), { recursive: true })
  fs.copyFileSync(opts.keys, path.join(opts.out, 'keys.json'))
  const tally = new Tally()
  const tests = {}
  const stats = { suites: new Set(), frames: new Set(), keys: [0, 0, 0, 0], ec: {}, bytes: 0 }
  const t0 = Date.now()
  for (const sc of randomScenarios(keys, opts.seed, opts.count)) {
    try {
      const { keyring, count } = factory.keyring(sc.descs, false)
      const { result, messageHeader } = await clients[COMMITTING.has(sc.suite)].encrypt(keyring, sc.plaintext, {
        suiteId: sc.suite,
        frameLength: sc.frame,
        encryptionContext: sc.ec,
      })
      const problems = headerProblems(sc, messageHeader, count)
      if (problems.length) throw new Error(problems.join('; '))
      fs.writeFileSync(path.join(opts.out, 'ciphertexts', sc.name), result)
      fs.writeFileSync(path.join(opts.out, 'plaintexts', sc.name), sc.plaintext)
      tests[sc.name] = {
        description: `javascript esdk ${CLIENT_VERSION}; suite 0x${sc.suite.toString(16).padStart(4, '0')}; frame length ${sc.frame}; plaintext ${sc.plaintext.length} B; EC ${sc.ecKind} (${Object.keys(sc.ec).length} pairs); ${count} key(s)`,
        ciphertext: `file://ciphertexts/${sc.name}`,
        'master-keys': sc.descs,
        result: { output: { plaintext: `file://plaintexts/${sc.name}` } },
      }
      tally.passed++
      stats.suites.add(sc.suite)
      stats.frames.add(sc.frame)
      stats.keys[sc.descs.length]++
      stats.ec[sc.ecKind] = (stats.ec[sc.ecKind] || 0) + 1
      stats.bytes += sc.plaintext.length
    } catch (e) {
      tally.failed++
      console.log(`FAIL ${sc.name}: encrypt: ${describe(e)}`)
    }
  }
  const manifest = {
    manifest: { type: 'awses-decrypt', version: 2 },
    client: { name: CLIENT_NAME, version: CLIENT_VERSION },
    keys: 'file://keys.json',
    tests,
  }
  fs.writeFileSync(path.join(opts.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  console.log(
    `wrote ${path.join(opts.out, 'manifest.json')}: ${Object.keys(tests).length} vectors (seed ${opts.seed}); ` +
      `${stats.suites.size} suites, ${stats.frames.size} frame lengths, 1/2/3 keys ${stats.keys.slice(1).join('/')}, ` +
      `EC ${JSON.stringify(stats.ec)}, ${(stats.bytes / MIB).toFixed(1)} MiB of plaintext in ${((Date.now() - t0) / 1000).toFixed(1)}s`
  )
  console.log(tally.line())
  return tally.failed === 0 && tally.passed > 0
}

// ------------------------------------------------------------------------------------------
// Streaming (stdin -> stdout)

function streamKeyring(opts) {
  if (!opts.keyHex || opts.keyHex.length !== 64) throw new UsageError('--key-hex must be 64 hex digits (AES-256)')
  return new RawAesKeyringNode({
    keyName: 'stream-key',
    keyNamespace: 'esdk-interop',
    unencryptedMasterKey: new Uint8Array(Buffer.from(opts.keyHex, 'hex')),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    utf8Sorting: true,
  })
}

async function cmdStreamEncrypt(opts) {
  const client = buildClient(COMMITTING.has(opts.suite) ? CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT : CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
  const enc = client.encryptStream(streamKeyring(opts), {
    suiteId: opts.suite,
    frameLength: opts.frame,
    encryptionContext: { purpose: 'esdk-rs streaming interop', '\u{1F510}': '\u00e9t\u00e9' },
  })
  await pipeline(process.stdin, enc, process.stdout)
  return true
}

async function cmdStreamDecrypt(opts) {
  const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
  await pipeline(process.stdin, client.decryptStream(streamKeyring(opts)), process.stdout)
  return true
}

// ------------------------------------------------------------------------------------------
// Command line

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { command: argv[0], manifest: [], seed: 20241129, count: 200, frame: 4096, suite: 0x0578, verbose: false }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--manifest') opts.manifest.push(value())
    else if (a === '--keys') opts.keys = value()
    else if (a === '--out') opts.out = value()
    else if (a === '--seed') opts.seed = Number(value())
    else if (a === '--count') opts.count = Number(value())
    else if (a === '--frame') opts.frame = Number(value())
    else if (a === '--suite') opts.suite = Number(value())
    else if (a === '--key-hex') opts.keyHex = value()
    else if (a === '-v' || a === '--verbose') opts.verbose = true
    else throw new UsageError(`unknown argument ${a}`)
  }
  return opts
}

const COMMANDS = {
  decrypt: cmdDecrypt,
  encrypt: cmdEncrypt,
  'stream-encrypt': cmdStreamEncrypt,
  'stream-decrypt': cmdStreamDecrypt,
}

module.exports = { loadKeys, KeyringFactory, rng, streamThrough, randomChunks, fixedRichContext, CLIENT_VERSION }

if (require.main === module) {
  ;(async () => {
    let opts
    try {
      opts = parseArgs(process.argv.slice(2))
      if (!COMMANDS[opts.command]) throw new UsageError(`unknown command ${opts.command}`)
    } catch (e) {
      console.error(`error: ${e.message}\nusage: node esdk_vectors.js decrypt|encrypt|stream-encrypt|stream-decrypt ... (see the top of this file)`)
      process.exit(2)
    }
    try {
      const ok = await COMMANDS[opts.command](opts)
      process.exitCode = ok ? 0 : 1
    } catch (e) {
      console.error(`error: ${describe(e)}`)
      process.exitCode = e instanceof UsageError ? 2 : 1
    }
  })()
}
