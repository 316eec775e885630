#!/usr/bin/env node
// The JavaScript side of the esdk-kms interoperability test (kms-ext/tests/kms.rs,
// js_esdk_kms_interop_both_directions): the JavaScript ESDK's KMS keyrings against the same
// KMS-compatible endpoint (moto on 127.0.0.1) as the Rust tests.
//
// Pointing the JS KMS keyrings at a local endpoint: every KMS keyring takes a `clientProvider`,
// a function region -> KMS client. `getClient(KMS, config)` from @aws-crypto/kms-keyring-node
// builds one from an AWS SDK v3 client config; this tool passes
// { endpoint: AWS_ENDPOINT_URL_KMS, credentials from AWS_ACCESS_KEY_ID/... }. (AWS SDK v3 also
// reads AWS_ENDPOINT_URL_KMS by itself; passing it keeps the choice visible.)
//
//   node kms_interop.js check
//   node kms_interop.js encrypt --key ARN [--key ARN ...] [--mrk] [--ec K=V ...] --in PT --out CT
//       KmsKeyringNode (buildAwsKmsMrkAwareStrictMultiKeyringNode with --mrk); the first key
//       generates the data key.
//   node kms_interop.js decrypt (--key ARN ... [--mrk] | --discovery [--account ID] | --mrk-discovery REGION)
//                               --in CT --out PT
//       prints the message's encryption context as JSON on standard output.
//
// Commitment policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT (the default). Exit status 1 with the error
// on standard error when the operation fails, 2 on usage errors.
'use strict'

const fs = require('fs')

let esdk, kms
try {
  esdk = require('@aws-crypto/client-node')
  kms = require('@aws-crypto/kms-keyring-node')
} catch (e) {
  // Exit status 3: the JavaScript ESDK is not installed (the Rust test skips, or fails when required).
  console.error(`the JavaScript ESDK is not installed (run npm ci in interop/js): ${e.message}`)
  process.exit(3)
}
const {
  buildClient,
  CommitmentPolicy,
  KmsKeyringNode,
  buildAwsKmsMrkAwareStrictMultiKeyringNode,
  buildAwsKmsMrkAwareDiscoveryMultiKeyringNode,
} = esdk
const { KMS, getClient } = kms

function clientProvider() {
  const endpoint = process.env.AWS_ENDPOINT_URL_KMS
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL_KMS is not set')
  const config = { endpoint, region: process.env.AWS_REGION || 'us-west-2' }
  if (process.env.AWS_ACCESS_KEY_ID) {
    config.credentials = {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
      sessionToken: process.env.AWS_SESSION_TOKEN,
    }
  }
  return getClient(KMS, config)
}

function parse(argv) {
  const o = { command: argv[0], keys: [], ec: {}, mrk: false, discovery: false }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--key') o.keys.push(v())
    else if (a === '--mrk') o.mrk = true
    else if (a === '--discovery') o.discovery = true
    else if (a === '--account') o.account = v()
    else if (a === '--mrk-discovery') o.mrkDiscovery = v()
    else if (a === '--in') o.in = v()
    else if (a === '--out') o.out = v()
    else if (a === '--ec') {
      const s = v()
      const at = s.indexOf('=')
      if (at < 0) throw new Error('--ec needs KEY=VALUE')
      o.ec[s.slice(0, at)] = s.slice(at + 1)
    } else throw new Error(`unknown argument ${a}`)
  }
  return o
}

function keyring(o, forDecrypt) {
  const provider = clientProvider()
  if (o.mrkDiscovery) {
    return buildAwsKmsMrkAwareDiscoveryMultiKeyringNode({ regions: [o.mrkDiscovery], clientProvider: provider })
  }
  if (o.discovery) {
    if (!forDecrypt) throw new Error('discovery keyrings cannot encrypt')
    const discoveryFilter = o.account ? { partition: 'aws', accountIDs: [o.account] } : undefined
    return new KmsKeyringNode({ discovery: true, discoveryFilter, clientProvider: provider })
  }
  if (!o.keys.length) throw new Error('--key, --discovery or --mrk-discovery is required')
  const [generatorKeyId, ...keyIds] = o.keys
  if (o.mrk) return buildAwsKmsMrkAwareStrictMultiKeyringNode({ generatorKeyId, keyIds, clientProvider: provider })
  return forDecrypt
    ? new KmsKeyringNode({ keyIds: o.keys, clientProvider: provider })
    : new KmsKeyringNode({ generatorKeyId, keyIds, clientProvider: provider })
}

async function main() {
  let o
  try {
    o = parse(process.argv.slice(2))
    if (!['check', 'encrypt', 'decrypt'].includes(o.command)) throw new Error(`unknown command ${o.command}`)
    if (o.command !== 'check' && (!o.in || !o.out)) throw new Error('--in and --out are required')
  } catch (e) {
    console.error(`usage error: ${e.message} (see the top of kms_interop.js)`)
    return 2
  }
  const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
  if (o.command === 'check') {
    console.log(`client-node ${require('@aws-crypto/client-node/package.json').version}, node ${process.version}`)
    return 0
  }
  try {
    const input = fs.readFileSync(o.in)
    if (o.command === 'encrypt') {
      const { result } = await client.encrypt(keyring(o, false), input, { encryptionContext: o.ec })
      fs.writeFileSync(o.out, result)
    } else {
      const { plaintext, messageHeader } = await client.decrypt(keyring(o, true), input)
      fs.writeFileSync(o.out, plaintext)
      console.log(JSON.stringify(messageHeader.encryptionContext))
    }
    return 0
  } catch (e) {
    console.error(`${o.command} failed: ${e.message}`)
    return 1
  }
}

main().then((code) => {
  process.exitCode = code
})
