"""Result cache, single flight and poll coalescing: pay upstream once per distinct search."""
