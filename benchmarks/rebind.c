/* The C client of the bind benchmark: libldap, one connection, re-binding as one account
 * after another (what an application's connection pool does).
 *
 * Debian ships libldap's runtime library but its headers only in libldap-dev, which a
 * server does not need: the few declarations used are written out here and the program
 * is linked against the .so directly (benchmarks/run.py compiles it with the system's cc).
 *
 * stdin: one "DN<TAB>password" per line. stdout: one line per bind, "<rc> <microseconds>".
 * argv[1]: the LDAP URI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ldap LDAP;
typedef struct ldapcontrol LDAPControl;
struct berval {
    unsigned long bv_len; /* ber_len_t */
    char *bv_val;
};

extern int ldap_initialize(LDAP **ldp, const char *uri);
extern int ldap_set_option(LDAP *ld, int option, const void *invalue);
extern int ldap_sasl_bind_s(LDAP *ld, const char *dn, const char *mechanism,
                            struct berval *cred, LDAPControl **sctrls, LDAPControl **cctrls,
                            struct berval **servercredp);
extern int ldap_unbind_ext_s(LDAP *ld, LDAPControl **sctrls, LDAPControl **cctrls);

#define LDAP_OPT_PROTOCOL_VERSION 0x0011
#define LDAP_VERSION3 3

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    LDAP *ld = NULL;
    int version = LDAP_VERSION3;
    char line[4096];
    if (argc != 2) {
        fprintf(stderr, "usage: %s URI < dn-tab-password-lines\n", argv[0]);
        return 2;
    }
    if (ldap_initialize(&ld, argv[1]) != 0) {
        fprintf(stderr, "ldap_initialize failed\n");
        return 1;
    }
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    while (fgets(line, sizeof line, stdin)) {
        char *tab = strchr(line, '\t');
        struct berval cred;
        double start;
        int rc;
        if (!tab) continue;
        *tab = '\0';
        cred.bv_val = tab + 1;
        cred.bv_len = strcspn(cred.bv_val, "\r\n");
        cred.bv_val[cred.bv_len] = '\0';
        start = now_us();
        rc = ldap_sasl_bind_s(ld, line, NULL, &cred, NULL, NULL, NULL);
        printf("%d %.1f\n", rc, now_us() - start);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
    return 0;
}
