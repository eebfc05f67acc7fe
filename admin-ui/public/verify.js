/* global atob, CSS */
// In-browser verification of an audit entry: RFC 6962 / RFC 9162 inclusion proof against a
// C2SP tlog-checkpoint signed note, whose Ed25519 signature is checked with WebCrypto against
// the verifier key in the page's field (an auditor may paste their own trusted copy).
// Everything fetched is treated as untrusted input; results are written with textContent only.

const enc = new TextEncoder();

const MESSAGES = {
  fr: {
    hex: 'hex invalide',
    b64: 'base64 invalide',
    index: 'index hors de l’arbre',
    proof_hash: 'hash de preuve de taille invalide',
    too_long: 'preuve trop longue',
    too_short: 'preuve trop courte',
    key_format: 'clé de vérification mal formée',
    key_alg: 'clé de vérification : Ed25519 attendue',
    key_id: 'clé de vérification : identifiant incohérent',
    note_format: 'point de contrôle mal formé',
    note_sig: 'signature du point de contrôle invalide',
    note_key: 'point de contrôle non signé par cette clé',
    size: 'la preuve ne porte pas sur ce point de contrôle',
    leaf: 'hash de feuille invalide',
    entry: 'l’entrée ne correspond pas à son hash de feuille',
    root: 'la racine calculée ne correspond pas au point de contrôle',
    uncovered: 'entrée absente ou pas encore couverte par un point de contrôle signé (réessayez dans une minute)',
    bad_index: 'index invalide',
  },
  en: {
    hex: 'invalid hex',
    b64: 'invalid base64',
    index: 'index outside the tree',
    proof_hash: 'proof hash of invalid size',
    too_long: 'proof too long',
    too_short: 'proof too short',
    key_format: 'malformed verifier key',
    key_alg: 'verifier key: Ed25519 expected',
    key_id: 'verifier key: inconsistent key id',
    note_format: 'malformed checkpoint',
    note_sig: 'invalid checkpoint signature',
    note_key: 'checkpoint not signed by this key',
    size: 'the proof is not for this checkpoint',
    leaf: 'invalid leaf hash',
    entry: 'the entry does not match its leaf hash',
    root: 'the computed root does not match the checkpoint',
    uncovered: 'entry missing or not yet covered by a signed checkpoint (try again in a minute)',
    bad_index: 'invalid index',
  },
};

/** A coded failure; the message is French (the default), the UI shows the page's language. */
function fail(code) {
  const e = new Error(MESSAGES.fr[code]);
  e.code = code;
  return e;
}

function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/i.test(hex)) throw fail('hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function b64ToBytes(b64) {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw fail('b64');
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));
}

/** RFC 9162 §2.1.3.2: the root reached from a leaf hash and its audit path; throws if malformed. */
export async function rootFromInclusionProof(index, size, leafHash, proof) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) throw fail('index');
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== 32) throw fail('proof_hash');
    if (sn === 0n) throw fail('too_long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw fail('too_short');
  return r;
}

/** "<name>+<hex key id>+<base64(0x01 ‖ key)>" → { name, keyId, publicKey } after checking the id. */
export async function parseVerifierKey(text) {
  const m = /^([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(text.trim());
  if (!m) throw fail('key_format');
  const raw = b64ToBytes(m[3]);
  if (raw.length !== 33 || raw[0] !== 1) throw fail('key_alg');
  const keyId = hexToBytes(m[2]);
  const expected = (await sha256(enc.encode(m[1]), Uint8Array.of(0x0a), raw)).slice(0, 4);
  if (!equal(keyId, expected)) throw fail('key_id');
  return { name: m[1], keyId, publicKey: raw.slice(1) };
}

/** Verifies the note's signature by `key` and returns { origin, size, root }. */
export async function verifyCheckpoint(note, key) {
  const sep = note.lastIndexOf('\n\n');
  if (sep < 0 || !note.endsWith('\n')) throw fail('note_format');
  const body = note.slice(0, sep + 1);
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3 || !/^(0|[1-9][0-9]{0,15})$/.test(lines[1]) || !/^[A-Za-z0-9+/]{43}=$/.test(lines[2])) throw fail('note_format');
  const sigs = note.slice(sep + 2, -1).split('\n').map((l) => /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/u.exec(l));
  const cryptoKey = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  for (const m of sigs) {
    if (!m || m[1] !== key.name) continue;
    const bytes = b64ToBytes(m[2]);
    if (bytes.length !== 68 || !equal(bytes.slice(0, 4), key.keyId)) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, cryptoKey, bytes.slice(4), enc.encode(body))) {
      return { origin: lines[0], size: Number(lines[1]), root: b64ToBytes(lines[2]) };
    }
    throw fail('note_sig');
  }
  throw fail('note_key');
}

/** Full check of a proof object as served by /proof/:index. Returns the checkpoint and key name. */
export async function verifyProof(proof, verifierKeyText) {
  const key = await parseVerifierKey(verifierKeyText);
  const cp = await verifyCheckpoint(proof.checkpoint, key);
  if (cp.size !== proof.treeSize) throw fail('size');
  const leaf = hexToBytes(proof.leafHash);
  if (leaf.length !== 32) throw fail('leaf');
  if (proof.entryBytes !== undefined && !equal(await sha256(Uint8Array.of(0), b64ToBytes(proof.entryBytes)), leaf)) {
    throw fail('entry');
  }
  const root = await rootFromInclusionProof(proof.index, proof.treeSize, leaf, (proof.hashes ?? []).map(hexToBytes));
  if (!equal(root, cp.root)) throw fail('root');
  return { size: cp.size, name: key.name, origin: cp.origin };
}

function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

function wire() {
  const box = document.getElementById('verifier');
  if (!box) return;
  for (const button of document.querySelectorAll('button.verify[data-index]')) {
    button.addEventListener('click', async () => {
      const index = button.dataset.index;
      const out = document.querySelector(`output.verify-result[data-for="${CSS.escape(index)}"]`);
      if (!out) return;
      out.textContent = box.dataset.msgRunning;
      out.dataset.result = 'running';
      try {
        if (!/^\d{1,15}$/.test(index)) throw fail('bad_index');
        const res = await fetch(`/proof/${index}`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
        if (res.status === 404) throw fail('uncovered');
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const proof = await res.json();
        const keyText = document.getElementById('verifier-key').value;
        const r = await verifyProof(proof, keyText);
        out.textContent = fill(box.dataset.msgOk, { index, size: r.size, name: r.name });
        out.dataset.result = 'ok';
      } catch (e) {
        const lang = document.documentElement.lang === 'en' ? 'en' : 'fr';
        const reason = e && typeof e.code === 'string' && MESSAGES[lang][e.code] ? MESSAGES[lang][e.code] : e instanceof Error ? e.message : String(e);
        out.textContent = fill(box.dataset.msgBad, { reason });
        out.dataset.result = 'bad';
      }
    });
  }
}

if (typeof document !== 'undefined') wire();
