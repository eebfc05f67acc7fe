/**
 * `envoyer.sh`: the partner's send script (bash, gpg, OpenSSH sftp). Every value interpolated
 * here was checked by checkKitInput (host, port, ids, hex fingerprints), so single quotes are
 * enough. The script exits with sftp's status: non-zero when the gateway rejects the file.
 */
import type { KitInput } from './kit.js';

export function sendScript(k: KitInput): string {
  const datasets = k.datasets.map((d) => d.id).join(' ');
  const signer = k.partnerPgpFingerprints[0] ?? '';
  const target = k.host.includes(':') ? `[${k.host}]` : k.host;
  return `#!/usr/bin/env bash
# Passerelle — envoi d'un export signé et chiffré (kit du partenaire « ${k.partnerId} »).
# Généré par \`passerelle partner-kit\` le ${k.generatedAt.toISOString().slice(0, 10)}.
#
# Usage : ./envoyer.sh JEU_DE_DONNEES FICHIER
#   JEU_DE_DONNEES : ${datasets}
#   FICHIER        : l'export en clair (CSV/NDJSON/JSON) ; il est signé avec votre clé OpenPGP,
#                    chiffré pour la passerelle, déposé par SFTP, puis le reçu est récupéré.
# Code de sortie : 0 = fichier accepté ; autre = refusé ou non transmis (voir le reçu).
#
# Variables d'environnement (facultatives) :
#   PASSERELLE_CLE_SSH        clé privée SSH du compte (défaut : ~/.ssh/id_ed25519)
#   PASSERELLE_CLE_SIGNATURE  empreinte de votre clé OpenPGP de signature (défaut : celle enregistrée)
#   PASSERELLE_RECUS          dossier où ranger les reçus (défaut : ./recus à côté du script)
#   GNUPGHOME                 trousseau GnuPG contenant votre clé secrète
set -euo pipefail

KIT_DIR="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
HOTE='${k.host}'
CIBLE='${target}'
PORT='${k.port}'
COMPTE='${k.partnerId}'
EMPREINTE_PASSERELLE='${k.gatewayPgpFingerprint}'
EMPREINTE_SIGNATURE="\${PASSERELLE_CLE_SIGNATURE:-${signer}}"
CLE_SSH="\${PASSERELLE_CLE_SSH:-$HOME/.ssh/id_ed25519}"
RECUS="\${PASSERELLE_RECUS:-$KIT_DIR/recus}"
JEUX='${datasets}'

erreur() { echo "envoyer.sh : $*" >&2; }
usage() {
  erreur "usage : $0 JEU_DE_DONNEES FICHIER"
  erreur "jeux de données autorisés : $JEUX"
  exit 2
}

[ $# -eq 2 ] || usage
jeu=$1
fichier=$2
case " $JEUX " in *" $jeu "*) ;; *) erreur "jeu de données non autorisé pour $COMPTE : $jeu"; usage ;; esac
[ -f "$fichier" ] || { erreur "fichier introuvable : $fichier"; exit 2; }
[ -r "$CLE_SSH" ] || { erreur "clé SSH introuvable : $CLE_SSH (variable PASSERELLE_CLE_SSH)"; exit 2; }
for outil in gpg sftp; do
  command -v "$outil" >/dev/null || { erreur "outil manquant : $outil"; exit 2; }
done

travail="$(mktemp -d)"
trap 'rm -rf "$travail"' EXIT

# 1. La clé publique de la passerelle, vérifiée contre l'empreinte épinglée dans ce script.
gpg --batch --quiet --import "$KIT_DIR/passerelle.pub.asc" 2>/dev/null \\
  || { erreur "import de passerelle.pub.asc impossible"; exit 3; }
gpg --batch --with-colons --fingerprint "$EMPREINTE_PASSERELLE" 2>/dev/null \\
  | grep -q "^fpr:::::::::$EMPREINTE_PASSERELLE:" \\
  || { erreur "la clé de la passerelle n'a pas l'empreinte attendue $EMPREINTE_PASSERELLE"; exit 3; }

# 2. Signer avec votre clé et chiffrer pour la passerelle. Le destinataire est désigné par son
#    empreinte complète, épinglée ci-dessus : la toile de confiance n'ajoute rien ici.
nom="$(date -u +%Y%m%dT%H%M%SZ)-$(printf '%s' "$(basename -- "$fichier")" | tr -c 'A-Za-z0-9._-' '_' | tr -s '.' | cut -c1-150)"
chiffre="$travail/$nom.gpg"
gpg --batch --yes --quiet --trust-model always \\
  --local-user "$EMPREINTE_SIGNATURE" --recipient "$EMPREINTE_PASSERELLE" \\
  --sign --encrypt --output "$chiffre" -- "$fichier" \\
  || { erreur "signature/chiffrement impossible (clé $EMPREINTE_SIGNATURE dans le trousseau ?)"; exit 3; }

options_ssh=(-P "$PORT" -i "$CLE_SSH" -o IdentitiesOnly=yes -o BatchMode=yes
  -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$KIT_DIR/known_hosts"
  -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=30)

# 3. Dépôt. La passerelle vérifie le fichier pendant le transfert et répond à la fermeture :
#    sftp sort en erreur si le fichier est refusé.
printf 'put "%s" "/inbox/%s/%s.gpg"\\n' "$chiffre" "$jeu" "$nom" > "$travail/depot.batch"
set +e
sftp -q -b "$travail/depot.batch" "\${options_ssh[@]}" "$COMPTE@$CIBLE" >/dev/null
statut=$?
set -e

# 4. Le reçu : les identifiants de dépôt sont triés par date, le plus récent est le dernier.
printf 'ls -1 /receipts\\n' > "$travail/liste.batch"
recu="$(sftp -q -b "$travail/liste.batch" "\${options_ssh[@]}" "$COMPTE@$CIBLE" 2>/dev/null \\
  | grep -v '^sftp>' | sed 's#.*/##' | grep -E '^[0-9A-Za-z]+\\.json$' | sort | tail -n 1 || true)"
if [ -n "$recu" ]; then
  mkdir -p "$RECUS"
  printf 'get "/receipts/%s" "%s/%s"\\n-get "/receipts/%s.asc" "%s/%s.asc"\\n' \\
    "$recu" "$RECUS" "$recu" "$recu" "$RECUS" "$recu" > "$travail/recu.batch"
  sftp -q -b "$travail/recu.batch" "\${options_ssh[@]}" "$COMPTE@$CIBLE" >/dev/null 2>&1 || true
fi
if [ -n "$recu" ] && [ -f "$RECUS/$recu" ]; then
  echo "Reçu : $RECUS/$recu"
  if ! grep -q "$nom.gpg" "$RECUS/$recu"; then
    echo "  (attention : ce reçu ne cite pas $nom.gpg ; un autre dépôt a pu avoir lieu entre-temps)"
  fi
  etat="$(grep -o '"status" *: *"[a-z]*"' "$RECUS/$recu" | head -n 1 | sed 's/.*"\\([a-z]*\\)"$/\\1/' || true)"
  code="$(grep -o '"code" *: *"[A-Z0-9_]*"' "$RECUS/$recu" | head -n 1 | sed 's/.*"\\([A-Z0-9_]*\\)"$/\\1/' || true)"
  echo "  statut : \${etat:-inconnu}\${code:+ ($code)}"
  if [ -f "$RECUS/$recu.asc" ]; then
    if gpg --batch --status-fd 1 --trust-model always --verify "$RECUS/$recu.asc" "$RECUS/$recu" 2>/dev/null \\
      | grep -q "^\\[GNUPG:\\] VALIDSIG .* $EMPREINTE_PASSERELLE$"; then
      echo "  signature du reçu par la passerelle : valide"
    else
      echo "  ATTENTION : la signature du reçu n'est pas celle de la passerelle"
    fi
  fi
else
  echo "Aucun reçu récupéré."
fi

if [ "$statut" -ne 0 ] && { [ -z "$recu" ] || ! grep -q "$nom.gpg" "$RECUS/$recu" 2>/dev/null; }; then
  # Refused files always get a receipt: none means the gateway could not take this one.
  echo "Aucun reçu pour ce dépôt : non transmis, ou non traité par la passerelle (incident, disque plein)."
  echo "  Rien n'a été livré ; renvoyer le même fichier plus tard, et prévenir l'exploitant si cela dure."
fi
if [ "$statut" -eq 0 ]; then
  echo "Dépôt accepté : /inbox/$jeu/$nom.gpg"
else
  erreur "dépôt REFUSÉ ou non transmis (sftp : $statut) — codes expliqués dans docs/errors.md"
fi
exit "$statut"
`;
}
