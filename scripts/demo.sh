#!/usr/bin/env bash
# A short walk through APEX Partenaires on the embedded default (run `apexdir dev up` first):
# catalogue, structure, administrator invited → form completed → validated, a collaborateur
# invited by the administrator, a profile granted, the consultation, and the mails received.
set -euo pipefail
cd "$(dirname "$0")/.."
A=".venv/bin/apexdir"
PASSWORD='Demo-Passw0rd!42'
SIRET=73282932000074
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
last_link() {  # the link of the last mail sent to $1
    $A daemon run-once outbox >/dev/null
    $A --json dev mails --to "$1" | .venv/bin/python -c \
        'import json,re,sys; print(re.findall(r"URL : (\S+)", json.load(sys.stdin)[-1]["body"])[0])'
}
# A demo run twice must not trip on its own data: use a fresh SIRET-free mailbox suffix.
RUN=$(date +%s)

step "Demo data (ldif/demo.ldif.j2): a catalogue, a structure and its services"
$A dev seed
$A app list
$A app profile-add FICOBA CONTROLE 2>/dev/null || echo "(profile FICOBA/CONTROLE already there)"
$A service create $SIRET "Service juridique" 2>/dev/null || echo "(service already there)"

step "The agent invites an administrator: the pré-création mail"
ADMIN_MAIL="marie.martin.$RUN@banque-exemple.fr"
REQ=$($A --json account invite --structure $SIRET --type administrateur --mail "$ADMIN_MAIL" --application FICOBA \
      | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
LINK=$(last_link "$ADMIN_MAIL")
echo "link in the mail: $LINK"

step "The invitee completes the form (password twice on stdin)"
printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | \
    $A account complete "$LINK" --last-name Martin --first-name Marie --mobile "06 12 34 56 78" --yes

step "The agent validates: the identifier is assigned and mailed"
ADMIN=$($A --json account validate "$REQ" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["identifier"])')
echo "identifier: $ADMIN"
$A grant "$ADMIN" FICOBA CONSULTATION

step "The administrator invites a collaborateur of his service, who completes the form"
COLLAB_MAIL="cathy.noel.$RUN@banque-exemple.fr"
REQ2=$($A --json --as "$ADMIN" account invite --structure $SIRET --type collaborateur \
       --service "Service contentieux" --mail "$COLLAB_MAIL" \
       | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | \
    $A account complete "$(last_link "$COLLAB_MAIL")" --last-name Noël --first-name Cathy --yes
COLLAB=$($A --json --as "$ADMIN" account validate "$REQ2" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["identifier"])')
$A --as "$ADMIN" grant "$COLLAB" FICOBA CONSULTATION

step "A responsable of the service; the administrator delegates him a profile he holds"
RESP_MAIL="michel.bruyere.$RUN@banque-exemple.fr"
REQ3=$($A --json --as "$ADMIN" account invite --structure $SIRET --type responsable \
       --service "Service contentieux" --mail "$RESP_MAIL" \
       | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | \
    $A account complete "$(last_link "$RESP_MAIL")" --last-name "de la Bruyère" --first-name Michel --yes >/dev/null
RESP=$($A --json --as "$ADMIN" account validate "$REQ3" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["identifier"])')
echo "identifier: $RESP"
$A --as "$ADMIN" delegate "$RESP" FICOBA CONSULTATION
echo "-- a profile the administrator does not hold cannot be delegated (exit 4):"
$A --as "$ADMIN" delegate "$RESP" PATRIM CONSULTATION || true
echo "-- the responsable cannot validate creations (exit 4):"
$A --as "$RESP" account pending --structure $SIRET >/dev/null && \
    $A --as "$RESP" account validate "$REQ3" || true

step "Personal data: the collaborateur changes his e-mail (confirmation to both addresses)"
NEW_MAIL="cathy.noel.new.$RUN@banque-exemple.fr"
$A --as "$COLLAB" me update "$COLLAB" --mail "$NEW_MAIL"
COLLAB_MAIL_OLD="$COLLAB_MAIL"

step "Consultation of the structure (never a phone number)"
$A --as "$COLLAB" structure show $SIRET

if $A login --help >/dev/null 2>&1; then
    step "The collaborateur logs in: password, then the code received by mail"
    printf '%s\n' "$PASSWORD" | $A login "$COLLAB"
    $A daemon run-once outbox >/dev/null
    CODE=$($A --json dev mails --to "$NEW_MAIL" | .venv/bin/python -c \
        'import json,re,sys; print(re.findall(r"code de vérification (\d{6})", json.load(sys.stdin)[-1]["body"])[0])')
    $A login verify "$COLLAB" "$CODE"
fi

step "The administrator forgot his password: a code by SMS (his mobile is known)"
$A password forgot "$ADMIN"
$A daemon run-once outbox >/dev/null
$A --json dev sms --to +33612345678 | .venv/bin/python -c \
    'import json,sys; m=json.load(sys.stdin)[-1]; print(m["to"], "←", m["body"])'
SMS_CODE=$($A --json dev sms --to +33612345678 | .venv/bin/python -c \
    'import json,re,sys; print(re.findall(r"\b(\d{6})\b", json.load(sys.stdin)[-1]["body"])[0])')
NEW_PASSWORD='Nouveau-Passw0rd!7'
printf '%s\n%s\n' "$NEW_PASSWORD" "$NEW_PASSWORD" | $A password reset "$ADMIN" "$SMS_CODE"

step "slapd itself refuses a weak password, even from a plain LDAP client"
URI=$($A --json dev status | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["ldap_uri"])')
ldappasswd -x -H "$URI" -D "uid=$ADMIN,ou=people,dc=apex,dc=dgfip,dc=finances,dc=gouv,dc=fr" \
    -w "$NEW_PASSWORD" -s 'faible' 2>&1 | head -n 3 || true

step "The daemon's jobs, once each"
for job in pending expiry changes housekeeping; do $A daemon run-once $job; done

step "Mails received by the collaborateur (old address, then new)"
$A daemon run-once outbox >/dev/null
$A dev mails --to "$COLLAB_MAIL_OLD"
$A dev mails --to "$NEW_MAIL"

step "Journal (last entries)"
$A journal | tail -n 14

step "A pending invitation, to complete in the browser"
INVITE_MAIL="louise.durand.$RUN@banque-exemple.fr"
$A --as "$ADMIN" account invite --structure $SIRET --type collaborateur \
    --service "Service contentieux" --mail "$INVITE_MAIL" >/dev/null
INVITE_LINK=$(last_link "$INVITE_MAIL")

PORTAL=$($A --json dev status | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["portal_url"])')
cat <<TXT

« Mon espace APEX Partenaires » runs under gunicorn; the daemon delivers mails every 2 s.
Demo accounts (the verification code arrives by mail: .venv/bin/apexdir dev mails --to ADDRESS):
  collaborateur  $COLLAB   $PASSWORD   (mail $NEW_MAIL)
  responsable    $RESP   $PASSWORD   (mail $RESP_MAIL)
  administrateur $ADMIN   $NEW_PASSWORD   (mail $ADMIN_MAIL, mobile 06 12 34 56 78)
Pré-création to complete: $INVITE_LINK
Forgotten password: the captcha's answer with .venv/bin/apexdir dev captcha,
  the SMS code with .venv/bin/apexdir dev sms.

Portal: $PORTAL
TXT
