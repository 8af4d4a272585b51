import{u as e}from"./index-gNtQmse6.js";function t(){return e("section",{children:e("h1",{children:"Request"})})}export{t as RequestView};
