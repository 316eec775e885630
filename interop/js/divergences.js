#!/usr/bin/env node
// Every known behavioural difference between the JavaScript ESDK (client-node 5.0.2 on Node 20)
// and esdk-rs, each asserted against both implementations (see README.md, "Divergences").
//
//   node divergences.js --bin PATH/esdk-test-vectors --keys KEYS.json
//
// Every check asserts the behaviour as it is today on both sides; a change on either side makes
// it fail, so the documentation cannot silently go stale. Prints one line per check and ends with
// "N passed, M failed"; exit status 1 when anything failed.
'use strict'

const assert = require('assert')
const crypto = require('crypto')
const { spawnSync } = require('child_process')
const esdk = require('@aws-crypto/client-node')
const { loadKeys, KeyringFactory } = require('./esdk_vectors')

const { RawAesKeyringNode, RawAesWrappingSuiteIdentifier, RawRsaKeyringNode, CommitmentPolicy, buildClient } = esdk

const args = process.argv.slice(2)
const opt = (name) => {
  const i = args.indexOf(name)
  if (i < 0 || i + 1 >= args.length) {
    console.error(`usage: node divergences.js --bin PATH/esdk-test-vectors --keys KEYS.json (missing ${name})`)
    process.exit(2)
  }
  return args[i + 1]
}
const BIN = opt('--bin')
const KEYS = opt('--keys')

const KEY_HEX = crypto.randomBytes(32).toString('hex')
const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)

// The raw AES keyring the Rust stream commands use (namespace esdk-interop, name stream-key).
function aesKeyring(utf8Sorting) {
  const input = {
    keyName: 'stream-key',
    keyNamespace: 'esdk-interop',
    unencryptedMasterKey: new Uint8Array(Buffer.from(KEY_HEX, 'hex')),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  }
  if (utf8Sorting !== undefined) input.utf8Sorting = utf8Sorting
  return new RawAesKeyringNode(input)
}

// Runs the Rust binary with `input` on stdin: { ok, stdout, stderr }.
function rust(argv, input) {
  const r = spawnSync(BIN, [...argv, '--key-hex', KEY_HEX], { input, maxBuffer: 1 << 26 })
  // EPIPE: the binary refused before reading its input (its status says how).
  if (r.error && !(r.error.code === 'EPIPE' && r.status !== null)) throw r.error
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.toString() }
}
const rustEncrypt = (pt, extra = []) => rust(['stream-encrypt', '--adapter', 'io-writer', '--frame', '64', ...extra], pt)
const rustDecrypt = (ct) => rust(['stream-decrypt', '--adapter', 'io-reader'], ct)

async function jsDecrypts(keyring, ct) {
  try {
    return { ok: true, plaintext: (await client.decrypt(keyring, ct)).plaintext }
  } catch (e) {
    return { ok: false, error: String(e.message) }
  }
}

const PT = Buffer.from('interop divergence check \u2713', 'utf8')
// Keys whose String.localeCompare order (a < B) differs from their UTF-8 byte order (B < a).
const MIXED_CASE_EC = { a: 'lower', B: 'upper' }

const checks = [
  [
    'D1 Node refuses RSA PKCS#1 v1.5 private decryption unless run with --security-revert=CVE-2023-46809',
    async () => {
      const keys = loadKeys(KEYS)
      const priv = Object.values(keys).find((e) => e.type === 'private' && e.decrypt)
      const desc = { type: 'raw', key: priv.name, 'provider-id': 'esdk-interop', 'encryption-algorithm': 'rsa', 'padding-algorithm': 'pkcs1' }
      const { keyring } = new KeyringFactory(keys).keyring([desc], false)
      // Encrypting (public-key PKCS#1 v1.5) works on any Node; only private decryption is refused.
      const { result } = await client.encrypt(keyring, PT)
      const script = `
        const { loadKeys, KeyringFactory } = require(${JSON.stringify(require.resolve('./esdk_vectors'))})
        const { buildClient, CommitmentPolicy } = require('@aws-crypto/client-node')
        const { keyring } = new KeyringFactory(loadKeys(${JSON.stringify(KEYS)})).keyring([${JSON.stringify(desc)}], true)
        const crypto = require('crypto')
        const message = Buffer.from(process.argv[1], 'base64')
        buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT).decrypt(keyring, message)
          .then((r) => { process.stdout.write('plaintext:' + r.plaintext.toString('base64')) }, (e) => {
            // The keyring swallows the cause; show it with the same key and padding in Node alone.
            let cause = 'none'
            try {
              const key = ${JSON.stringify(priv.material)}
              const padding = crypto.constants.RSA_PKCS1_PADDING
              crypto.privateDecrypt({ key, padding }, crypto.publicEncrypt({ key, padding }, Buffer.alloc(32, 1)))
            } catch (c) { cause = c.message }
            console.error(e.message + ' | cause: ' + cause); process.exit(1) })`
      const run = (flags) => spawnSync(process.execPath, [...flags, '-e', script, result.toString('base64')], { cwd: __dirname })
      const plain = run([])
      assert.notStrictEqual(plain.status, 0, 'plain node decrypted a PKCS#1 v1.5 EDK')
      assert.match(plain.stderr.toString(), /unencryptedDataKey has not been set/)
      assert.match(plain.stderr.toString(), /cause: RSA_PKCS1_PADDING is no longer supported for private decryption/)
      const reverted = run(['--security-revert=CVE-2023-46809'])
      assert.strictEqual(reverted.status, 0, reverted.stderr.toString())
      // Node prints its warning on standard output, not standard error.
      assert.match(reverted.stdout.toString(), /^SECURITY WARNING: Reverting CVE-2023-46809/)
      assert.strictEqual(reverted.stdout.toString().split('plaintext:')[1], PT.toString('base64'))
    },
  ],
  [
    'D2 RawAesKeyringNode sorts the wrapping AAD with localeCompare unless utf8Sorting: true (JS -> Rust)',
    async () => {
      for (const [utf8Sorting, interoperates] of [[undefined, false], [false, false], [true, true]]) {
        const { result } = await client.encrypt(aesKeyring(utf8Sorting), PT, { encryptionContext: MIXED_CASE_EC })
        const r = rustDecrypt(result)
        assert.strictEqual(r.ok, interoperates, `utf8Sorting ${utf8Sorting}: rust decrypt ${r.ok ? 'succeeded' : 'failed: ' + r.stderr}`)
        if (!interoperates) assert.match(r.stderr, /no encrypted data key|decrypt/i)
        // The JS keyring always reads back what it wrote.
        assert.ok((await jsDecrypts(aesKeyring(utf8Sorting), result)).ok)
      }
      // Control: with one pair the two orders agree and the default keyring interoperates.
      const { result } = await client.encrypt(aesKeyring(), PT, { encryptionContext: { a: 'only' } })
      assert.ok(rustDecrypt(result).ok)
    },
  ],
  [
    'D2 RawAesKeyringNode sorts the wrapping AAD with localeCompare unless utf8Sorting: true (Rust -> JS)',
    async () => {
      const ct = rustEncrypt(PT, ['--ec', 'a=lower', '--ec', 'B=upper'])
      assert.ok(ct.ok, ct.stderr)
      assert.strictEqual((await jsDecrypts(aesKeyring(), ct.stdout)).ok, false)
      assert.strictEqual((await jsDecrypts(aesKeyring(false), ct.stdout)).ok, false)
      const good = await jsDecrypts(aesKeyring(true), ct.stdout)
      assert.ok(good.ok, good.error)
      assert.deepStrictEqual(good.plaintext, PT)
    },
  ],
  [
    'D3 JS cannot write non-framed messages (frameLength must be 1..2^32-1); it reads ours',
    async () => {
      await assert.rejects(client.encrypt(aesKeyring(true), PT, { frameLength: 0 }), /frameLength out of bounds/)
      await assert.rejects(client.encrypt(aesKeyring(true), PT, { frameLength: 2 ** 32 }), /frameLength out of bounds/)
      const ok = await client.encrypt(aesKeyring(true), PT, { frameLength: 2 ** 32 - 1 })
      assert.ok(rustDecrypt(ok.result).ok)
      // Reading non-framed messages: the framework 0003 vectors with frame size 0 (run_js_interop.sh).
    },
  ],
  [
    'D4 JS ignores bytes after a complete unsigned message; esdk-rs rejects them',
    async () => {
      const ct = rustEncrypt(PT, ['--suite', '0478'])
      assert.ok(ct.ok, ct.stderr)
      assert.ok(rustDecrypt(ct.stdout).ok)
      for (const extra of [Buffer.from([0]), Buffer.alloc(100, 7)]) {
        const padded = Buffer.concat([ct.stdout, extra])
        const js = await jsDecrypts(aesKeyring(true), padded)
        assert.ok(js.ok, js.error)
        assert.deepStrictEqual(js.plaintext, PT)
        const r = rustDecrypt(padded)
        assert.strictEqual(r.ok, false, 'esdk-rs accepted trailing bytes')
        assert.match(r.stderr, /bytes follow the end of the message/)
      }
      // Signed messages: the extra bytes are read as part of the signature, and JS fails too.
      const signed = rustEncrypt(PT, ['--suite', '0578'])
      assert.strictEqual((await jsDecrypts(aesKeyring(true), Buffer.concat([signed.stdout, Buffer.from([0])]))).ok, false)
    },
  ],
  [
    'D5 JS writes encryption context keys with the reserved aws-crypto- prefix; esdk-rs refuses to write them, reads them',
    async () => {
      const { result } = await client.encrypt(aesKeyring(true), PT, { encryptionContext: { 'aws-crypto-x': '1' } })
      const r = rustDecrypt(result)
      assert.ok(r.ok, r.stderr)
      assert.deepStrictEqual(r.stdout, PT)
      const w = rustEncrypt(PT, ['--ec', 'aws-crypto-x=1'])
      assert.strictEqual(w.ok, false)
      assert.match(w.stderr, /reserved prefix/)
    },
  ],
]

;(async () => {
  let passed = 0
  let failed = 0
  for (const [name, fn] of checks) {
    try {
      await fn()
      passed++
      console.log(`PASS ${name}`)
    } catch (e) {
      failed++
      console.log(`FAIL ${name}: ${String(e.message).replace(/\s+/g, ' ').slice(0, 400)}`)
    }
  }
  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1
})()
