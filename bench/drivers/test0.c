/* test0: the textbook baseline. No allocation: its minor page faults are the cost of starting. */
int main(void)
{
    int i;
    char *addr;

    i = 0;
    addr = 0;
    while (i < 1024) {
        i++;
    }
    (void)addr;
    return (0);
}
