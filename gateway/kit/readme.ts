/** The kit's README (French first, short English summary): what is in the kit and how to send. */
import { groupFingerprint, knownHostsPattern, type KitInput } from './kit.js';

export function kitReadme(k: KitInput): string {
  const datasetLines = k.datasets.map((d) => `| \`${d.id}\` | ${d.title} | ${d.format} | \`/inbox/${d.id}/\` |`);
  const first = k.datasets[0]?.id ?? 'JEU';
  const signer = k.partnerPgpFingerprints[0] ?? '';
  return `# Kit partenaire Passerelle — ${k.partnerName} (\`${k.partnerId}\`)

Généré le ${k.generatedAt.toISOString().slice(0, 10)}. Ce kit permet d'envoyer vos exports à la
passerelle d'échange de l'observatoire, signés par votre clé OpenPGP et chiffrés pour la
passerelle, par SFTP, depuis une tâche planifiée.

## Contenu

| fichier | rôle |
|---|---|
| \`known_hosts\` | clé d'hôte SSH de la passerelle (\`${knownHostsPattern(k.host, k.port)}\`), pour vérifier le serveur |
| \`passerelle.pub.asc\` | clé publique OpenPGP de la passerelle : vos fichiers sont chiffrés pour elle |
| \`EMPREINTES.txt\` | les empreintes à confirmer auprès de l'exploitant |
| \`envoyer.sh\` | le script d'envoi (bash, \`gpg\`, \`sftp\`) |

## Avant le premier envoi

1. **Vérifiez les empreintes** de \`EMPREINTES.txt\` auprès de l'exploitant de la passerelle, par
   un autre canal que celui qui vous a apporté ce kit (téléphone, rencontre) :
   - clé d'hôte SSH : \`${k.hostKey.fingerprint}\`
   - clé OpenPGP de la passerelle : \`${groupFingerprint(k.gatewayPgpFingerprint)}\`
2. **Outils** : \`bash\`, GnuPG (\`gpg\` 2.2 ou plus récent) et le client OpenSSH (\`sftp\`).
   Debian/Ubuntu : \`apt-get install gnupg openssh-client\`.
3. **Votre clé SSH** : la clé privée correspondant à la clé publique transmise à l'exploitant.
   Par défaut \`~/.ssh/id_ed25519\` ; sinon \`export PASSERELLE_CLE_SSH=/chemin/vers/la/cle\`.
   Le compte SFTP est \`${k.partnerId}\`, sur \`${k.host}\`, port ${k.port}.
4. **Votre clé OpenPGP** : la clé secrète dont l'empreinte est enregistrée
   (\`${groupFingerprint(signer)}\`) doit être dans le trousseau GnuPG de l'utilisateur qui lance
   le script (ou dans \`GNUPGHOME\`), sans phrase secrète si le script tourne sans surveillance.

## Jeux de données que vous pouvez envoyer

| jeu | intitulé | format | dépôt |
|---|---|---|---|
${datasetLines.join('\n')}

Testez un export avant de l'envoyer, exactement comme la passerelle le vérifiera, avec
\`passerelle validate --dataset ${first} FICHIER\` (outil fourni par l'exploitant).

## Envoyer

\`\`\`sh
./envoyer.sh ${first} /chemin/vers/export.csv
echo $?   # 0 = accepté ; autre = refusé ou non transmis
\`\`\`

Le script signe et chiffre le fichier (\`gpg --sign --encrypt\`), le dépose dans
\`/inbox/${first}/\` avec \`sftp -b\`, puis récupère le reçu signé de la passerelle dans \`recus/\`.
La passerelle vérifie le fichier **pendant** le transfert et répond à la fin : un fichier refusé
fait sortir \`sftp\`, donc le script, en erreur. Le reçu (\`recus/<identifiant>.json\`) donne le
statut (\`accepted\`, \`rejected\`, \`duplicate\`), le code d'erreur et, pour chaque enregistrement
refusé, la ligne, le champ et le message. Les codes sont expliqués dans la documentation
« Codes d'erreur » de Passerelle (\`docs/errors.md\`).

Exemple de tâche planifiée (crontab, tous les jours à 2 h 30) :

\`\`\`
30 2 * * * /opt/passerelle-kit/envoyer.sh ${first} /srv/exports/${first}.csv >> /var/log/passerelle-envoi.log 2>&1
\`\`\`

## Autres clients

WinSCP, lftp ou rclone conviennent aussi : chiffrez d'abord avec
\`gpg --sign --encrypt --recipient ${k.gatewayPgpFingerprint}\`, puis déposez le fichier
(\`.gpg\`, \`.pgp\` ou \`.asc\`) dans \`/inbox/<jeu>/\`. Les noms temporaires (\`.filepart\`,
\`.part\`, \`.tmp\`) renommés à la fin du transfert sont pris en charge. Vérifiez la clé d'hôte
(\`${k.hostKey.fingerprint}\`) à la première connexion.

---

## English summary

Partner kit for \`${k.partnerId}\`. Confirm the fingerprints in \`EMPREINTES.txt\` with the gateway
operator out of band. Requirements: bash, GnuPG ≥ 2.2, OpenSSH \`sftp\`; your SSH private key
(\`PASSERELLE_CLE_SSH\`, default \`~/.ssh/id_ed25519\`) and your registered OpenPGP secret key in
your GnuPG keyring. Run \`./envoyer.sh <dataset> <file>\`: it signs and encrypts the file to the
gateway's key, uploads it to \`/inbox/<dataset>/\` with \`sftp -b\` (exit status non-zero when the
gateway rejects it) and fetches the signed receipt into \`recus/\`.
`;
}
