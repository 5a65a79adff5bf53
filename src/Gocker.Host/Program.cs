// gockerd: placeholder.
return 0;
