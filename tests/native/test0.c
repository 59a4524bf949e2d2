/* test0: the textbook baseline. No allocation at all: its page-fault count is what
 * the loader, libc and the allocator's own start-up cost, subtracted from test1/test2. */
int main(void)
{
    int i;
    char *addr;

    i = 0;
    (void)addr;
    while (i < 1024)
        i++;
    return (0);
}
