/* The worker's link-thread index of group members (workers/memberships.h). */
#include <criterion/criterion.h>
#include "workers/memberships.h"

static cx_memberships *ix;
static void setup(void) { ix = cx_memberships_new(); }
static void teardown(void) { cx_memberships_destroy(&ix); }
TestSuite(memberships, .init = setup, .fini = teardown);

static uint64_t seen[16];
static size_t nseen;
static void collect(uint64_t conn, void *arg)
{
    (void) arg;
    cr_assert_lt(nseen, 16);
    seen[nseen++] = conn;
}

static size_t members(const char *a, const char *b)
{
    cx_slice groups[2] = { cx_slice_of(a), cx_slice_of(b ? b : "") };
    nseen = 0;
    cx_memberships_each(ix, groups, b ? 2 : 1, collect, NULL);
    return nseen;
}

static int has(uint64_t conn)
{
    for (size_t i = 0; i < nseen; i++)
        if (seen[i] == conn)
            return 1;
    return 0;
}

Test(memberships, an_event_reaches_each_member_once_and_nobody_else)
{
    char *const *names;
    cr_assert_eq(cx_memberships_join(ix, "lobby", 5, 1, NULL), 0);
    cr_assert_eq(cx_memberships_join(ix, "lobby", 5, 2, NULL), 0);
    cr_assert_eq(cx_memberships_join(ix, "staff", 5, 2, NULL), 0);
    cr_assert_eq(cx_memberships_join(ix, "kitchen", 7, 3, NULL), 0);
    cr_assert_eq(cx_memberships_join(ix, "lobby", 5, 1, NULL), 0);   /* again: no second membership */
    cr_assert_eq(cx_memberships_names_of(ix, 1, &names, NULL), 1);
    cr_assert_eq(members("lobby", "staff"), 2, "conn 2 is in both groups and counts once");
    cr_assert(has(1) && has(2) && !has(3));
    cr_assert_eq(members("nobody", NULL), 0);
    cr_assert_eq(members("kitchen", NULL), 1);
    cr_assert(has(3));
}

Test(memberships, leaving_and_ending_take_the_connection_out)
{
    char *const *names;
    cx_memberships_join(ix, "lobby", 5, 1, NULL);
    cx_memberships_join(ix, "staff", 5, 1, NULL);
    cx_memberships_join(ix, "lobby", 5, 2, NULL);
    cx_memberships_leave(ix, "lobby", 5, 1);
    cx_memberships_leave(ix, "lobby", 5, 9);   /* not a member: nothing */
    cx_memberships_leave(ix, "lob", 3, 2);     /* a prefix of the name is another group */
    cr_assert_eq(members("lobby", NULL), 1);
    cr_assert(has(2));
    cr_assert_eq(members("staff", NULL), 1);
    cx_memberships_forget(ix, 1);
    cr_assert_eq(members("staff", NULL), 0);
    cr_assert_eq(cx_memberships_names_of(ix, 1, &names, NULL), 0);
    cx_memberships_forget(ix, 2);
    cr_assert_eq(members("lobby", "staff"), 0);
    cx_memberships_forget(ix, 2);              /* twice: nothing */
    cr_assert_eq(cx_memberships_join(ix, "lobby", 5, 2, NULL), 0, "a group emptied and freed can be joined again");
    cr_assert_eq(members("lobby", NULL), 1);
}

/* What a worker's RESUME carries to a restarted broker (workers/worker.c resume). */
Test(memberships, a_connections_group_names_are_listed_for_resume)
{
    char *const *names;
    cr_assert_eq(cx_memberships_names_of(ix, 1, &names, NULL), 0);
    cx_memberships_join(ix, "lobby", 5, 1, NULL);
    cx_memberships_join(ix, "staff", 5, 1, NULL);
    cx_memberships_join(ix, "lobby", 5, 2, NULL);
    cx_memberships_leave(ix, "lobby", 5, 1);
    cr_assert_eq(cx_memberships_names_of(ix, 1, &names, NULL), 1);
    cr_assert_str_eq(names[0], "staff");
    cr_assert_eq(cx_memberships_names_of(ix, 2, &names, NULL), 1);
    cr_assert_str_eq(names[0], "lobby");
    cx_memberships_forget(ix, 2);
    cr_assert_eq(cx_memberships_names_of(ix, 2, &names, NULL), 0);
}

/* Each group keeps the terms it was joined on (a topic's history beside the consumer's), so a RESUME
 * re-declares each as it was; a leave keeps the others' terms with their names. */
Test(memberships, each_group_keeps_the_terms_it_was_joined_on)
{
    char *const *names;
    const cx_membership_terms *terms;
    cx_membership_terms room = { 100, 600000, CX_GROUP_ADD_PRESENCE }, plain = { 0, 0, 0 };
    cx_memberships_join(ix, "plain", 5, 1, &plain);
    cx_memberships_join(ix, "room", 4, 1, &room);
    cx_memberships_join(ix, "other", 5, 1, NULL);
    cx_memberships_leave(ix, "plain", 5, 1);
    cr_assert_eq(cx_memberships_names_of(ix, 1, &names, &terms), 2);
    for (int i = 0; i < 2; i++) {
        int is_room = strcmp(names[i], "room") == 0;
        cr_assert_eq(terms[i].history_size, is_room ? 100u : 0u, "%s", names[i]);
        cr_assert_eq(terms[i].history_ttl_ms, is_room ? 600000u : 0u, "%s", names[i]);
        cr_assert_eq(terms[i].flags, is_room ? CX_GROUP_ADD_PRESENCE : 0u, "%s", names[i]);
    }
}
