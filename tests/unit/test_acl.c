/* app/acl.c: the ACL matrix (each entry kind against anonymous, a user,
 * group and institution members), malformed entries, and normalization. */
#include <string.h>

#include "acl.h"
#include "check.h"

int main(void)
{
    const char *groups[] = {"101888", "staff"}, *insts[] = {"UIS"};
    caller anon = {.authenticated = false, .kind = "anonymous"};
    caller user = {.authenticated = true, .kind = "apikey", .user = "spqr1", .owner = "key:1"};
    caller member = {.authenticated = true, .kind = "oauth2", .user = "abc12", .groups = groups,
                     .ngroups = 2, .insts = insts, .ninsts = 1};
    const caller *all[] = {&anon, &user, &member};
    static const struct {
        const char *acl;
        bool want[3]; /* anonymous, spqr1, abc12 (groups 101888 staff, inst UIS) */
    } cases[] = {
        {NULL, {true, true, true}},
        {"acl:WORLD:", {true, true, true}},
        {"acl:CAM:", {false, true, true}},
        {"acl:USER_spqr1:", {false, true, false}},
        {"acl:USER_abc12:", {false, false, true}},
        {"acl:GROUP_101888:", {false, false, true}},
        {"acl:GROUP_1018:", {false, false, false}},
        {"acl:INST_UIS:", {false, false, true}},
        {"acl:INST_UI:", {false, false, false}},
        {"acl:USER_spqr1,INST_UIS:", {false, true, true}},
        {"acl::", {false, false, false}},
        {"acl:", {false, false, false}},
        {"USER_spqr1, GROUP_staff", {false, true, true}},
        {"acl:user_spqr1:", {false, false, false}},
        {"acl:USER_:", {false, false, false}},
        {"acl:ROOT,USER_spqr1:", {false, true, false}},
        {"acl:USER_spqr1 x:", {false, false, false}},
        {"acl:WORLD", {true, true, true}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < 3; k++)
            if (!CHECK(acl_admits(cases[i].acl, all[k], NULL) == cases[i].want[k]))
                fprintf(stderr, "  acl %s, caller %zu\n", cases[i].acl ? cases[i].acl : "(none)", k);
    int bad = 0;
    CHECK(acl_admits("acl:ROOT,USER_a$b,,GROUP_x:", &member, &bad) == false);
    CHECK_INT(bad, 2);
    CHECK(acl_admits(NULL, NULL, &bad) && bad == 0);
    CHECK(!acl_admits("acl:CAM:", NULL, NULL));

    char out[64], err[128];
    CHECK_INT(acl_normalize(" USER_a , GROUP_b,INST_c", out, sizeof out, err, sizeof err), 0);
    CHECK_STR(out, "USER_a,GROUP_b,INST_c");
    CHECK_INT(acl_normalize("acl:WORLD:", out, sizeof out, err, sizeof err), 0);
    CHECK_STR(out, "WORLD");
    CHECK_INT(acl_normalize("", out, sizeof out, err, sizeof err), -1);
    CHECK_INT(acl_normalize("USER_a,", out, sizeof out, err, sizeof err), -1);
    CHECK_INT(acl_normalize("ADMIN", out, sizeof out, err, sizeof err), -1);
    CHECK_HAS(err, "'ADMIN' is not an ACL entry");
    CHECK_INT(acl_normalize("USER_a;DROP", out, sizeof out, err, sizeof err), -1);
    CHECK_INT(acl_normalize("USER_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", out, 16,
                            err, sizeof err), -1);
    return CHECK_DONE("acl");
}
