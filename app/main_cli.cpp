// bitstudio-cli: placeholder replaced by the CLI module.
#include <cstdio>
int main() { std::puts("bitstudio-cli"); return 0; }
