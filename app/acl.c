/* ACL entries and who they admit. See acl.h. */
#include "acl.h"

#include <stdio.h>
#include <string.h>

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-"

bool acl_id_valid(const char *s, size_t n)
{
    if (n < 1 || n > ACL_ID_MAX)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!s[k] || !strchr(ID_CHARS, s[k]))
            return false;
    return true;
}

typedef enum { E_BAD, E_WORLD, E_CAM, E_USER, E_GROUP, E_INST } entry_kind;

/* The kind of the entry e[0..n), and its id in *id (idlen bytes). */
static entry_kind entry(const char *e, size_t n, const char **id, size_t *idlen)
{
    static const struct {
        const char *prefix;
        entry_kind kind;
    } kinds[] = {{"USER_", E_USER}, {"GROUP_", E_GROUP}, {"INST_", E_INST}};
    *id = NULL;
    *idlen = 0;
    if (n == 5 && memcmp(e, "WORLD", 5) == 0)
        return E_WORLD;
    if (n == 3 && memcmp(e, "CAM", 3) == 0)
        return E_CAM;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t pl = strlen(kinds[i].prefix);
        if (n > pl && memcmp(e, kinds[i].prefix, pl) == 0) {
            if (!acl_id_valid(e + pl, n - pl))
                return E_BAD;
            *id = e + pl;
            *idlen = n - pl;
            return kinds[i].kind;
        }
    }
    return E_BAD;
}

static bool member(const char *const *list, size_t n, const char *id, size_t len)
{
    for (size_t i = 0; list && i < n; i++)
        if (list[i] && strlen(list[i]) == len && memcmp(list[i], id, len) == 0)
            return true;
    return false;
}

/* The entries of acl: past an "acl:" prefix, up to a closing ':'. */
static void body(const char *acl, const char **b, size_t *n)
{
    if (strncmp(acl, "acl:", 4) == 0) {
        acl += 4;
        const char *end = strchr(acl, ':');
        *n = end ? (size_t)(end - acl) : strlen(acl);
    } else
        *n = strlen(acl);
    *b = acl;
}

bool acl_admits(const char *acl, const caller *c, int *bad)
{
    const char *b, *id;
    size_t n, idlen;
    bool ok = false;
    if (bad)
        *bad = 0;
    if (!acl)
        return true;
    body(acl, &b, &n);
    for (size_t i = 0; i < n;) {
        size_t len = 0;
        while (i + len < n && b[i + len] != ',')
            len++;
        const char *e = b + i;
        while (len && (*e == ' ')) { /* "USER_a, GROUP_b" */
            e++;
            len--;
        }
        switch (entry(e, len, &id, &idlen)) {
        case E_WORLD:
            ok = true;
            break;
        case E_CAM:
            ok |= c && c->authenticated;
            break;
        case E_USER:
            ok |= c && c->user && strlen(c->user) == idlen && memcmp(c->user, id, idlen) == 0;
            break;
        case E_GROUP:
            ok |= c && member(c->groups, c->ngroups, id, idlen);
            break;
        case E_INST:
            ok |= c && member(c->insts, c->ninsts, id, idlen);
            break;
        case E_BAD:
            if (len && bad)
                (*bad)++;
            break;
        }
        i += (e - (b + i)) + len + 1;
    }
    return ok;
}

int acl_normalize(const char *in, char *out, size_t cap, char *err, size_t errcap)
{
    const char *b, *id;
    size_t n, idlen, o = 0;
    int count = 0;
    body(in ? in : "", &b, &n);
    for (size_t i = 0; i <= n;) {
        size_t len = 0;
        while (i + len < n && b[i + len] != ',')
            len++;
        const char *e = b + i;
        size_t el = len;
        while (el && *e == ' ') {
            e++;
            el--;
        }
        while (el && e[el - 1] == ' ')
            el--;
        if (entry(e, el, &id, &idlen) == E_BAD) {
            snprintf(err, errcap, "'%.*s' is not an ACL entry (WORLD, CAM, USER_<id>, GROUP_<id>, "
                                  "INST_<id>)", (int)(el > 60 ? 60 : el), e);
            return -1;
        }
        if (o + el + 2 > cap) {
            snprintf(err, errcap, "the ACL is too long");
            return -1;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", count ? "," : "", (int)el, e);
        count++;
        i += len + 1;
    }
    return 0;
}
