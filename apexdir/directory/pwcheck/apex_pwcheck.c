/*
 * apex_pwcheck — the password rules of SPEC §4, enforced by slapd itself.
 *
 * A ppolicy "pwdCheckModule" (OpenLDAP 2.5 interface): slapd calls check_password() with the
 * cleartext of every password set through a plain modify or the password-modify extended
 * operation, so a script that bypasses apexdir meets the same rules as apexdir's own
 * check (apexdir/rules/passwords.py). Both must agree: tests compare them.
 *
 * Rules (limits come from pwdCheckModuleArg, e.g. "min=12 max=20 digits=2"):
 *   - between min and max characters, counted in Unicode code points (ppolicy's own
 *     pwdMinLength/pwdMaxLength count bytes: "é" is two of them);
 *   - at least one upper-case and one lower-case letter, of any alphabet;
 *   - at least `digits` decimal digits;
 *   - at least one special character (neither a letter nor a digit);
 *   - no control or format character; valid UTF-8 only.
 *
 * Built by apexdir at set-up time (apexdir/directory/pwcheck/__init__.py) without the OpenLDAP
 * development headers: the module needs no type from them but the opaque Entry.
 */
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* slapd's Entry: never dereferenced here, so it stays opaque. */
typedef struct Entry Entry;

/* lber's struct berval on LP64 (ber_len_t is unsigned long): pwdCheckModuleArg's value. */
struct apex_berval {
	unsigned long bv_len;
	char *bv_val;
};

#define LDAP_SUCCESS 0x00
#define LDAP_CONSTRAINT_VIOLATION 0x13

/* The 2.5 prototype (slapo-ppolicy(5)); 2.6 replaced ppErrStr with a struct berval. */
int check_password(char *pPasswd, char **ppErrStr, Entry *pEntry, void *pArg);

struct limits {
	long min;
	long max;
	long digits;
};

/* Unicode general category Cf (format characters), the ranges Python's unicodedata has in
 * 14.0; Cc is tested apart. Invisible characters cannot be typed back reliably. */
static const unsigned long FORMAT_RANGES[][2] = {
	{0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
	{0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
	{0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
	{0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
	{0x13430, 0x13438}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
	{0xE0020, 0xE007F},
};

static int is_control(unsigned long cp)
{
	size_t i;

	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
		return 1;
	for (i = 0; i < sizeof(FORMAT_RANGES) / sizeof(FORMAT_RANGES[0]); i++)
		if (cp >= FORMAT_RANGES[i][0] && cp <= FORMAT_RANGES[i][1])
			return 1;
	return 0;
}

/* Decode one UTF-8 sequence; returns its length, or 0 when it is invalid (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static size_t utf8_next(const unsigned char *s, unsigned long *cp)
{
	size_t len, i;
	unsigned long value, floor;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xE0) == 0xC0) {
		len = 2, value = s[0] & 0x1F, floor = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, value = s[0] & 0x0F, floor = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, value = s[0] & 0x07, floor = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		value = (value << 6) | (s[i] & 0x3F);
	}
	if (value < floor || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
		return 0;
	*cp = value;
	return len;
}

static void parse_limits(const struct apex_berval *arg, struct limits *out)
{
	char buf[256];
	char *token, *save = NULL;
	size_t n;

	out->min = 12;
	out->max = 20;
	out->digits = 2;
	if (arg == NULL || arg->bv_val == NULL || arg->bv_len == 0)
		return;
	n = arg->bv_len < sizeof(buf) - 1 ? arg->bv_len : sizeof(buf) - 1;
	memcpy(buf, arg->bv_val, n);
	buf[n] = '\0';
	for (token = strtok_r(buf, " \t,;", &save); token; token = strtok_r(NULL, " \t,;", &save)) {
		long value;
		char *eq = strchr(token, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		value = strtol(eq + 1, NULL, 10);
		if (value < 0)
			continue;
		if (strcmp(token, "min") == 0)
			out->min = value;
		else if (strcmp(token, "max") == 0)
			out->max = value;
		else if (strcmp(token, "digits") == 0)
			out->digits = value;
	}
}

/* Append one French message (the same wording as apexdir) to the error text. */
static void add_message(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 3 >= size)
		return;
	if (used > 0) {
		strcpy(buf + used, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/* Case tables of every alphabet: the C locale knows only ASCII. C.UTF-8 ships with glibc;
 * without it non-ASCII letters count as neither case, the stricter reading. slapd calls the
 * module from many threads at once: the locale is opened once, under pthread_once. */
static locale_t utf8 = (locale_t)0;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void open_utf8(void)
{
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

int check_password(char *pPasswd, char **ppErrStr, Entry *pEntry, void *pArg)
{
	struct limits lim;
	const unsigned char *p = (const unsigned char *)pPasswd;
	long length = 0, digits = 0;
	int upper = 0, lower = 0, special = 0, control = 0;
	char message[1024] = "";

	(void)pEntry;
	pthread_once(&utf8_once, open_utf8);
	parse_limits((const struct apex_berval *)pArg, &lim);
	if (p == NULL)
		p = (const unsigned char *)"";

	while (*p) {
		unsigned long cp;
		size_t step = utf8_next(p, &cp);

		if (step == 0) {
			if (ppErrStr)
				*ppErrStr = strdup("Le mot de passe doit être un texte UTF-8 valide");
			return LDAP_CONSTRAINT_VIOLATION;
		}
		p += step;
		length++;
		if (cp >= '0' && cp <= '9') {
			digits++;
		} else if (cp < 0x80) {
			if (cp >= 'A' && cp <= 'Z')
				upper = 1;
			else if (cp >= 'a' && cp <= 'z')
				lower = 1;
			else
				special = 1;
		} else if (utf8 != (locale_t)0 && iswalpha_l((wint_t)cp, utf8)) {
			if (iswupper_l((wint_t)cp, utf8))
				upper = 1;
			else if (iswlower_l((wint_t)cp, utf8))
				lower = 1;
		} else if (utf8 == (locale_t)0 || !iswdigit_l((wint_t)cp, utf8)) {
			special = 1;
		}
		if (is_control(cp))
			control = 1;
	}

	if (length < lim.min || length > lim.max)
		add_message(message, sizeof(message),
			    "Le mot de passe doit contenir entre %ld et %ld caractères", lim.min,
			    lim.max);
	if (!upper)
		add_message(message, sizeof(message),
			    "Le mot de passe doit contenir au moins une lettre majuscule");
	if (!lower)
		add_message(message, sizeof(message),
			    "Le mot de passe doit contenir au moins une lettre minuscule");
	if (digits < lim.digits)
		add_message(message, sizeof(message),
			    "Le mot de passe doit contenir au moins %ld chiffres", lim.digits);
	if (!special)
		add_message(message, sizeof(message),
			    "Le mot de passe doit contenir au moins un caractère spécial (ni lettre ni chiffre)");
	if (control)
		add_message(message, sizeof(message),
			    "Le mot de passe ne doit pas contenir de caractère de contrôle");

	if (message[0] == '\0')
		return LDAP_SUCCESS;
	/* slapd free()s the text: it must come from malloc. */
	if (ppErrStr)
		*ppErrStr = strdup(message);
	return LDAP_CONSTRAINT_VIOLATION;
}
