# Perl hash and regex workload for the FtMalloc benchmark suite.
# Generates lines of pseudo-words, rewrites them with regex substitutions, counts words in a
# hash, groups stems by suffix in a hash of arrays, deletes part of the hash and sorts it.
# Prints a summary, a checksum of its results (the same under every allocator) and OK.
#
# usage: perl perlhash.pl LINES
use strict;
use warnings;

my $n = shift // 100000;
my $x = 12345;
sub rnd { $x = ($x * 1103515245 + 12345) % 2147483648; return $x >> 12; }

my @syll = qw(ka to ri ne su mo la pe di vo ing ed er s tion al);
my @words = map { my $w = ''; $w .= $syll[rnd() % @syll] for 1 .. 1 + rnd() % 5; $w } 1 .. 20000;

my (%count, %bysuffix, %first);
my $text = '';
for my $i (1 .. $n) {
    my $line = join ' ', map { my $r = rnd(); $words[$r % @words] . ($r % 4 ? '' : $r % 997) } 1 .. 8;
    $line =~ s/\b(\w+?)(ing|ed)\b/\U$1\E_$2/g;
    for my $w (split / /, $line) {
        $count{$w}++;
        push @{ $bysuffix{$2} }, $1 if $w =~ /^([a-z]+?)(tion|al|er|s)(\d*)$/;
        $first{$w} //= $i;
    }
    $text .= "$line\n" if $i % 10 == 0;
}
my $total = 0;
$total += $_ for values %count;
die "word counts do not add up\n" unless $total == 8 * $n;

my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 9];
delete $count{$_} for grep { /^[a-m]/ } keys %count;
my $matches = () = $text =~ /\b[A-Z]+_ing\b/g;
my $stems = 0;
$stems += scalar @{ $bysuffix{$_} } for sort keys %bysuffix;
my $summary = join ',', scalar(keys %count), scalar(keys %first), $matches, $stems, length($text), @top;
print "$summary\n";
printf "checksum %08x%08x\n", unpack('%32C*', $summary . $text), length($text);
print "OK\n";
