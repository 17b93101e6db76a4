#include <cstdio>
int main() { std::puts("fdwatch: under construction"); return 0; }
