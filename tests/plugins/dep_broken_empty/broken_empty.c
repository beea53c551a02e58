/*
 * dep_broken_empty — a shared object with no CHANX_CONSUMER at all (a
 * library dropped into the wrong folder). Refused: it serves nothing.
 */
int dep_broken_empty_answer(void);

int dep_broken_empty_answer(void)
{
    return 42;
}
